package images

import (
	"bytes"
	"encoding/binary"
)

// ELF64 layout constants for a static executable with one loadable segment.
const (
	elfHeaderSize  = 64
	progHeaderSize = 56
	elfLoadAddr    = 0x400000
	// elfCodeOffset is where the code starts in the file (and, plus
	// elfLoadAddr, in memory): right after the two headers.
	elfCodeOffset = elfHeaderSize + progHeaderSize
)

// staticELF wraps x86-64 code (which starts executing at its first byte) in a
// minimal static ELF64 executable: the file header, one PT_LOAD program header
// mapping the whole file read+execute at elfLoadAddr, then the code.
func staticELF(code []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	total := uint64(elfCodeOffset + len(code))

	// e_ident: magic, 64-bit, little-endian, version 1, System V ABI.
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
	b.Write(make([]byte, 8))
	binary.Write(&b, le, uint16(2))                         // e_type: ET_EXEC
	binary.Write(&b, le, uint16(0x3e))                      // e_machine: EM_X86_64
	binary.Write(&b, le, uint32(1))                         // e_version
	binary.Write(&b, le, uint64(elfLoadAddr+elfCodeOffset)) // e_entry
	binary.Write(&b, le, uint64(elfHeaderSize))             // e_phoff
	binary.Write(&b, le, uint64(0))                         // e_shoff: no sections
	binary.Write(&b, le, uint32(0))                         // e_flags
	binary.Write(&b, le, uint16(elfHeaderSize))             // e_ehsize
	binary.Write(&b, le, uint16(progHeaderSize))            // e_phentsize
	binary.Write(&b, le, uint16(1))                         // e_phnum
	binary.Write(&b, le, uint16(0))                         // e_shentsize
	binary.Write(&b, le, uint16(0))                         // e_shnum
	binary.Write(&b, le, uint16(0))                         // e_shstrndx

	binary.Write(&b, le, uint32(1))           // p_type: PT_LOAD
	binary.Write(&b, le, uint32(5))           // p_flags: R+X
	binary.Write(&b, le, uint64(0))           // p_offset
	binary.Write(&b, le, uint64(elfLoadAddr)) // p_vaddr
	binary.Write(&b, le, uint64(elfLoadAddr)) // p_paddr
	binary.Write(&b, le, total)               // p_filesz
	binary.Write(&b, le, total)               // p_memsz
	binary.Write(&b, le, uint64(0x1000))      // p_align

	b.Write(code)
	return b.Bytes()
}
