package images

import (
	"encoding/binary"
	"fmt"
)

// asm assembles a short straight-line x86-64 program: raw instruction bytes,
// labels, and rel8 jumps to labels resolved when the program is finished. It
// knows exactly the instructions the pause program needs and nothing more.
type asm struct {
	code   []byte
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at    int // offset of the rel8 byte
	label string
}

func newAsm() *asm { return &asm{labels: map[string]int{}} }

func (a *asm) emit(b ...byte) { a.code = append(a.code, b...) }

func (a *asm) imm32(v uint32) { a.code = binary.LittleEndian.AppendUint32(a.code, v) }

func (a *asm) label(name string) { a.labels[name] = len(a.code) }

// movEAX .. movR10D load a 32-bit immediate (zero-extended to 64 bits).
func (a *asm) movEAX(v uint32)  { a.emit(0xb8); a.imm32(v) }
func (a *asm) movEDI(v uint32)  { a.emit(0xbf); a.imm32(v) }
func (a *asm) movESI(v uint32)  { a.emit(0xbe); a.imm32(v) }
func (a *asm) movEDX(v uint32)  { a.emit(0xba); a.imm32(v) }
func (a *asm) movR10D(v uint32) { a.emit(0x41, 0xba); a.imm32(v) }

// movRDIMinus1 is mov rdi, -1 (sign-extended imm32).
func (a *asm) movRDIMinus1() { a.emit(0x48, 0xc7, 0xc7, 0xff, 0xff, 0xff, 0xff) }

func (a *asm) xorEDI()       { a.emit(0x31, 0xff) }
func (a *asm) xorESI()       { a.emit(0x31, 0xf6) }
func (a *asm) xorEDX()       { a.emit(0x31, 0xd2) }
func (a *asm) xorR10D()      { a.emit(0x45, 0x31, 0xd2) }
func (a *asm) testRAX()      { a.emit(0x48, 0x85, 0xc0) }
func (a *asm) cmpEAX(v int8) { a.emit(0x83, 0xf8, byte(v)) }
func (a *asm) syscall()      { a.emit(0x0f, 0x05) }

// Jumps with an 8-bit displacement to a label.
func (a *asm) jmp(l string) { a.jump(0xeb, l) }
func (a *asm) je(l string)  { a.jump(0x74, l) }
func (a *asm) jne(l string) { a.jump(0x75, l) }
func (a *asm) jg(l string)  { a.jump(0x7f, l) }

func (a *asm) jump(op byte, l string) {
	a.emit(op, 0)
	a.fixups = append(a.fixups, fixup{at: len(a.code) - 1, label: l})
}

// finish resolves the jumps and returns the machine code.
func (a *asm) finish() ([]byte, error) {
	for _, f := range a.fixups {
		target, ok := a.labels[f.label]
		if !ok {
			return nil, fmt.Errorf("asm: undefined label %q", f.label)
		}
		rel := target - (f.at + 1)
		if rel < -128 || rel > 127 {
			return nil, fmt.Errorf("asm: jump to %q out of rel8 range (%d)", f.label, rel)
		}
		a.code[f.at] = byte(int8(rel))
	}
	return a.code, nil
}
