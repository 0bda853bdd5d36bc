package proxy

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func deleteTable(c *nftables.Conn) error {
	c.AddTable(table) // so the delete cannot fail with ENOENT
	c.DelTable(table)
	if err := c.Flush(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("deleting nftables table %q: %w", TableName, err)
	}
	return nil
}

// batchBuffer bounds one transaction: the whole table is sent in one netlink
// message, and 1,000 Services with 10 endpoints each take several MiB, more
// than the default socket buffer (net.core.wmem_max) allows.
const batchBuffer = 64 << 20

func bigSocketBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		// FORCE ignores wmem_max; it needs CAP_NET_ADMIN, which programming
		// nftables needs anyway.
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, batchBuffer)
		if serr == nil {
			// The kernel acknowledges every message of the batch.
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, batchBuffer)
		}
	})
	if err == nil && serr != nil {
		if err := c.SetWriteBuffer(batchBuffer); err != nil {
			return err
		}
		return c.SetReadBuffer(batchBuffer)
	}
	return err
}

func (p *Proxy) conn() (*nftables.Conn, func(), error) {
	if p.opts.NetNSPath == "" {
		c, err := nftables.New(nftables.WithSockOptions(bigSocketBuffers))
		return c, func() {}, err
	}
	f, err := os.Open(p.opts.NetNSPath)
	if err != nil {
		return nil, nil, fmt.Errorf("opening network namespace: %w", err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())), nftables.WithSockOptions(bigSocketBuffers))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, func() { f.Close() }, nil
}
