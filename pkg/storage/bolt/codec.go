package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/skiffhq/skiff/pkg/storage"
)

// On-disk layout, format 1. Integers are big-endian so that revisions sort in byte
// order, which is what lets the log be scanned with a cursor.
//
//	keys:  key -> createRev(8) modRev(8) value
//	log:   rev(8) -> type(1) createRev(uvarint) prevModRev(uvarint)
//	                 len(key)(uvarint) key len(value)(uvarint) value prevValue
//	meta:  "format", "revision", "compacted" -> uint64(8)
//
// In the log, value is the new value for Created and Updated and the last value for
// Deleted; prevValue (the rest of the record) is present only for Updated, because a
// delete's previous value is its last value. prevModRev is 0 for Created.
var (
	keysBucket = []byte("keys")
	logBucket  = []byte("log")
	metaBucket = []byte("meta")

	formatKey    = []byte("format")
	revisionKey  = []byte("revision")
	compactedKey = []byte("compacted")
)

const format = 1

var errCorrupt = errors.New("corrupt record")

func revKey(rev int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(rev))
}

func decodeRev(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("revision of %d bytes: %w", len(b), errCorrupt)
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

func encodeRecord(createRev, modRev int64, value []byte) []byte {
	buf := make([]byte, 16, 16+len(value))
	binary.BigEndian.PutUint64(buf, uint64(createRev))
	binary.BigEndian.PutUint64(buf[8:], uint64(modRev))
	return append(buf, value...)
}

// decodeRecord copies the value out: buf belongs to the transaction.
func decodeRecord(key string, buf []byte) (storage.KeyValue, error) {
	if len(buf) < 16 {
		return storage.KeyValue{}, fmt.Errorf("key %q: record of %d bytes: %w", key, len(buf), errCorrupt)
	}
	return storage.KeyValue{
		Key:            key,
		Value:          bytes.Clone(buf[16:]),
		CreateRevision: int64(binary.BigEndian.Uint64(buf)),
		ModRevision:    int64(binary.BigEndian.Uint64(buf[8:])),
	}, nil
}

func encodeEvent(ev storage.Event) []byte {
	var prevModRev int64
	var prevValue []byte
	if ev.PrevKV != nil {
		prevModRev = ev.PrevKV.ModRevision
		if ev.Type == storage.Updated {
			prevValue = ev.PrevKV.Value
		}
	}
	buf := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(ev.KV.Key)+len(ev.KV.Value)+len(prevValue))
	buf = append(buf, byte(ev.Type))
	buf = binary.AppendUvarint(buf, uint64(ev.KV.CreateRevision))
	buf = binary.AppendUvarint(buf, uint64(prevModRev))
	buf = binary.AppendUvarint(buf, uint64(len(ev.KV.Key)))
	buf = append(buf, ev.KV.Key...)
	buf = binary.AppendUvarint(buf, uint64(len(ev.KV.Value)))
	buf = append(buf, ev.KV.Value...)
	return append(buf, prevValue...)
}

// eventHeader is a log record split into its fields, still pointing into the record.
type eventHeader struct {
	typ        storage.EventType
	createRev  int64
	prevModRev int64
	key        []byte
	value      []byte
	prevValue  []byte
}

func parseEvent(buf []byte) (eventHeader, error) {
	var h eventHeader
	if len(buf) < 1 {
		return h, errCorrupt
	}
	h.typ = storage.EventType(buf[0])
	rest := buf[1:]
	var fields [3]uint64
	for i := range fields {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return h, errCorrupt
		}
		fields[i], rest = v, rest[n:]
	}
	h.createRev, h.prevModRev = int64(fields[0]), int64(fields[1])
	if fields[2] > uint64(len(rest)) {
		return h, errCorrupt
	}
	h.key, rest = rest[:fields[2]], rest[fields[2]:]
	vlen, n := binary.Uvarint(rest)
	if n <= 0 || vlen > uint64(len(rest)-n) {
		return h, errCorrupt
	}
	rest = rest[n:]
	h.value, h.prevValue = rest[:vlen], rest[vlen:]
	return h, nil
}

// decodeEvent copies everything out: buf belongs to the transaction.
func decodeEvent(rev int64, h eventHeader) (storage.Event, error) {
	key := string(h.key)
	ev := storage.Event{
		Type: h.typ,
		KV: storage.KeyValue{
			Key:            key,
			Value:          bytes.Clone(h.value),
			CreateRevision: h.createRev,
			ModRevision:    rev,
		},
	}
	switch h.typ {
	case storage.Created:
	case storage.Updated:
		ev.PrevKV = &storage.KeyValue{Key: key, Value: bytes.Clone(h.prevValue), CreateRevision: h.createRev, ModRevision: h.prevModRev}
	case storage.Deleted:
		ev.PrevKV = &storage.KeyValue{Key: key, Value: ev.KV.Value, CreateRevision: h.createRev, ModRevision: h.prevModRev}
	default:
		return storage.Event{}, fmt.Errorf("revision %d: event type %d: %w", rev, h.typ, errCorrupt)
	}
	return ev, nil
}
