package bolt

import (
	"errors"
	"fmt"
	"testing"

	"github.com/skiffhq/skiff/pkg/storage"
)

func TestEventRoundTrip(t *testing.T) {
	kv := func(value string, create, mod int64) storage.KeyValue {
		return storage.KeyValue{Key: "/registry/pods/default/web", Value: []byte(value), CreateRevision: create, ModRevision: mod}
	}
	ptr := func(kv storage.KeyValue) *storage.KeyValue { return &kv }
	tests := []storage.Event{
		{Type: storage.Created, KV: kv("v1", 7, 7)},
		{Type: storage.Created, KV: kv("", 7, 7)},
		{Type: storage.Updated, KV: kv("v2", 7, 9), PrevKV: ptr(kv("v1", 7, 7))},
		{Type: storage.Updated, KV: kv("", 7, 1<<40), PrevKV: ptr(kv("", 7, 9))},
		{Type: storage.Deleted, KV: kv("v2", 7, 12), PrevKV: ptr(kv("v2", 7, 9))},
	}
	for _, want := range tests {
		t.Run(fmt.Sprintf("%v at %d", want.Type, want.Revision()), func(t *testing.T) {
			buf := encodeEvent(want)
			h, err := parseEvent(buf)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeEvent(want.Revision(), h)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := fmt.Sprintf("%v %+v", got.Type, got.KV)+fmt.Sprint(deref(got.PrevKV)), fmt.Sprintf("%v %+v", want.Type, want.KV)+fmt.Sprint(deref(want.PrevKV)); g != w {
				t.Errorf("round trip\n got  %s\n want %s", g, w)
			}
			// Every truncation is caught, never a panic or a wrong event.
			for n := range len(buf) - len(prevValue(want)) {
				if h, err := parseEvent(buf[:n]); err == nil {
					t.Errorf("record cut to %d of %d bytes parsed as %+v", n, len(buf), h)
				}
			}
		})
	}
	if _, err := decodeEvent(1, eventHeader{typ: 9}); !errors.Is(err, errCorrupt) {
		t.Errorf("unknown event type: %v, want errCorrupt", err)
	}
}

func deref(kv *storage.KeyValue) any {
	if kv == nil {
		return nil
	}
	return *kv
}

func prevValue(ev storage.Event) []byte {
	if ev.Type == storage.Updated {
		return ev.PrevKV.Value
	}
	return nil
}

func TestRecordRoundTrip(t *testing.T) {
	got, err := decodeRecord("/k", encodeRecord(3, 1<<50, []byte("value")))
	if err != nil || got.CreateRevision != 3 || got.ModRevision != 1<<50 || string(got.Value) != "value" || got.Key != "/k" {
		t.Errorf("record round trip = %+v, %v", got, err)
	}
	if _, err := decodeRecord("/k", make([]byte, 15)); !errors.Is(err, errCorrupt) {
		t.Errorf("short record: %v, want errCorrupt", err)
	}
}
