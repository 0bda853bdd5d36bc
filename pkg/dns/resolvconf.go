package dns

import (
	"bufio"
	"net"
	"os"
	"slices"
	"strings"
)

// ResolvConf is what a resolv.conf says.
type ResolvConf struct {
	Servers, Searches, Options []string
}

// ReadResolvConf reads a resolv.conf; a file that cannot be read says nothing.
func ReadResolvConf(path string) ResolvConf {
	var r ResolvConf
	f, err := os.Open(path)
	if err != nil {
		return r
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			r.Servers = append(r.Servers, fields[1])
		case "search", "domain":
			r.Searches = fields[1:]
		case "options":
			r.Options = append(r.Options, fields[1:]...)
		}
	}
	return r
}

// upstreamsOf are the resolv.conf's nameservers as host:53, without the
// addresses in skip (this server's own, which would loop).
func upstreamsOf(rc ResolvConf, skip []string) []string {
	var out []string
	for _, s := range rc.Servers {
		if ip := net.ParseIP(strings.SplitN(s, "%", 2)[0]); ip == nil || slices.Contains(skip, ip.String()) {
			continue
		}
		out = append(out, net.JoinHostPort(s, "53"))
	}
	return out
}
