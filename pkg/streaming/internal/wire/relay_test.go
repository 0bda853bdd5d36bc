package wire

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TestSwitch: the hop's answer is kept as sent, what it sent after the
// answer is read first from the connection, and anything but 101 is the
// Status a client should see.
func TestSwitch(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		code         int32 // 0: switched
	}{
		{"switched", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\nEARLY", 0},
		{"refused", "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden", http.StatusForbidden},
		{"redirected", "HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n", http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, hop := net.Pipe()
			defer hop.Close()
			var got *http.Request
			go func() {
				got, _ = http.ReadRequest(bufio.NewReader(hop))
				io.WriteString(hop, tc.answer)
				io.WriteString(hop, "LATE")
				hop.Close()
			}()
			rl := Relay{Dial: func(context.Context, *url.URL) (net.Conn, error) { return client, nil }}
			target := &url.URL{Scheme: "https", Host: "10.0.0.1:10250", Path: "/exec/ns/pod/c"}
			sw, err := rl.Switch(context.Background(), http.MethodPost, target, http.Header{"Upgrade": {"SPDY/3.1"}, "X-Stream-Protocol-Version": {"v4.channel.k8s.io"}})
			if tc.code != 0 {
				if st, ok := err.(apierrors.APIStatus); !ok || st.Status().Code != tc.code {
					t.Fatalf("Switch = %v, want a Status with code %d", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer sw.Close()
			if got == nil || got.Header.Get("Connection") != "Upgrade" || got.URL.Path != "/exec/ns/pod/c" {
				t.Errorf("the hop got %+v", got)
			}
			if sw.Protocol != "v4.channel.k8s.io" || !strings.HasPrefix(tc.answer, string(sw.Head)) || !strings.HasSuffix(string(sw.Head), "\r\n\r\n") {
				t.Errorf("protocol %q, head %q", sw.Protocol, sw.Head)
			}
			if rest, _ := io.ReadAll(sw); string(rest) != "EARLYLATE" {
				t.Errorf("read after the answer %q, want %q", rest, "EARLYLATE")
			}
		})
	}
}
