package etcdmember

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	retryFirstWait = 100 * time.Millisecond
	retryMaxWait   = 2 * time.Second
)

// MemberInfo is one member of an etcd cluster, as Members lists it.
type MemberInfo struct {
	// Name is empty for a member that was added but has not started yet.
	Name       string
	ID         uint64
	PeerURLs   []string
	ClientURLs []string
	IsLearner  bool
}

// Members lists the members of the cluster cli is connected to, in the order
// of their IDs.
func Members(ctx context.Context, cli *clientv3.Client) ([]MemberInfo, error) {
	resp, err := cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list etcd members: %w", err)
	}
	out := make([]MemberInfo, 0, len(resp.Members))
	for _, m := range resp.Members {
		out = append(out, MemberInfo{
			Name:       m.Name,
			ID:         m.ID,
			PeerURLs:   m.PeerURLs,
			ClientURLs: m.ClientURLs,
			IsLearner:  m.IsLearner,
		})
	}
	slices.SortFunc(out, func(a, b MemberInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// AddLearner adds the member called name, reached at peerURL, to the cluster
// cli is connected to, as a learner, and returns the initial cluster it must
// start with (Config.InitialCluster, with Join). A member that already has
// peerURL was added by an earlier call (a joining server that retries): it
// gets the same answer (so does a member that started there: a server that
// lost its data dir must be removed before it joins again). A started member
// called name at another peer URL is an error: remove it first.
//
// etcd takes no new member until the member cli talks to has been connected
// to a quorum for 5 seconds, which is not yet so just after a member joined
// or restarted: AddLearner waits for that, until ctx ends. etcd also admits
// one learner at a time, so a server can join only once the one before it
// has been promoted; that is an error (rpctypes.ErrTooManyLearners) to retry
// later.
func AddLearner(ctx context.Context, cli *clientv3.Client, name, peerURL string) (initialCluster string, err error) {
	if name == "" || strings.ContainsAny(name, "=,") {
		return "", fmt.Errorf("add etcd member %q: a name must be non-empty and hold neither '=' nor ','", name)
	}
	list, err := cli.MemberList(ctx)
	if err != nil {
		return "", fmt.Errorf("add etcd member %q: %w", name, err)
	}
	if id, ok, err := findAdded(list.Members, name, peerURL); err != nil || ok {
		if err != nil {
			return "", err
		}
		return initialClusterOf(list.Members, id, name), nil
	}
	var resp *clientv3.MemberAddResponse
	err = whileUnhealthy(ctx, func() (err error) {
		resp, err = cli.MemberAddAsLearner(ctx, []string{peerURL})
		return err
	})
	if errors.Is(err, rpctypes.ErrPeerURLExist) {
		// Another call for the same joiner won the race; answer as it did.
		if list, err = cli.MemberList(ctx); err != nil {
			return "", fmt.Errorf("add etcd member %q: %w", name, err)
		}
		id, ok, err := findAdded(list.Members, name, peerURL)
		if err != nil {
			return "", err
		}
		if ok {
			return initialClusterOf(list.Members, id, name), nil
		}
		return "", fmt.Errorf("add etcd member %q at %s: %w", name, peerURL, rpctypes.ErrPeerURLExist)
	}
	if err != nil {
		return "", fmt.Errorf("add etcd member %q at %s: %w", name, peerURL, err)
	}
	return initialClusterOf(resp.Members, resp.Member.ID, name), nil
}

// findAdded finds the member with peerURL, which must be either unstarted or
// called name, and checks that no other member is called name.
func findAdded(members []*etcdserverpb.Member, name, peerURL string) (id uint64, ok bool, err error) {
	for _, m := range members {
		switch {
		case slices.Contains(m.PeerURLs, peerURL):
			if m.Name != "" && m.Name != name {
				return 0, false, fmt.Errorf("add etcd member %q: peer URL %s belongs to member %q", name, peerURL, m.Name)
			}
			id, ok = m.ID, true
		case m.Name == name:
			return 0, false, fmt.Errorf("add etcd member %q at %s: a member of that name is at %s; remove it first", name, peerURL, strings.Join(m.PeerURLs, ","))
		}
	}
	return id, ok, nil
}

// initialClusterOf is "name=peerURL,..." of every member, the new one called
// name. An unstarted member has no name yet but etcd still counts it, so it
// is listed under a placeholder.
func initialClusterOf(members []*etcdserverpb.Member, newID uint64, name string) string {
	var parts []string
	for _, m := range members {
		n := m.Name
		switch {
		case m.ID == newID:
			n = name
		case n == "":
			n = "unstarted-" + strconv.FormatUint(m.ID, 16)
		}
		for _, u := range m.PeerURLs {
			parts = append(parts, n+"="+u)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// PromoteWhenReady promotes the learner id to a voting member as soon as it
// has caught up with the leader, asking again with growing pauses (0.1s to
// 2s) while etcd says it has not, until ctx ends. A member that is already a
// voter is no error; one that is not in the cluster is.
func PromoteWhenReady(ctx context.Context, cli *clientv3.Client, id uint64) error {
	wait := retryFirstWait
	for {
		err := promote(ctx, cli, id)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, rpctypes.ErrMemberNotFound):
			return fmt.Errorf("promote etcd member %x: %w", id, err)
		case refusedByLearner(err):
			return fmt.Errorf("promote etcd member %x: the client talks to a learner, which serves no membership requests; use a voting member's client, or Member.PromoteSelf: %w", id, err)
		}
		// Not caught up yet (ErrMemberLearnerNotReady), too few members
		// started, or the leader is changing: all pass.
		select {
		case <-ctx.Done():
			return fmt.Errorf("promote etcd member %x: %w (last answer: %v)", id, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMaxWait)
	}
}

func promote(ctx context.Context, cli *clientv3.Client, id uint64) error {
	// Asking to promote a voter works out, but each member then logs an
	// error as it applies the request, so look first.
	list, err := cli.MemberList(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(list.Members, func(m *etcdserverpb.Member) bool { return m.ID == id })
	switch {
	case i < 0:
		return rpctypes.ErrMemberNotFound
	case !list.Members[i].IsLearner:
		return nil
	}
	_, err = cli.MemberPromote(ctx, id)
	if errors.Is(err, rpctypes.ErrMemberNotLearner) {
		return nil
	}
	return err
}

// refusedByLearner reports whether err is a learner's refusal of a request
// only voting members serve.
func refusedByLearner(err error) bool {
	return err != nil && rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(rpctypes.ErrGRPCNotSupportedForLearner)
}

// Remove removes the member called name from the cluster cli is connected
// to. name may also be a member's ID in hex, for one that was added but never
// started and so has no name. A member that is not there is no error. As
// with AddLearner, removing a running voter waits until the member cli talks
// to has been connected to a quorum for 5 seconds.
func Remove(ctx context.Context, cli *clientv3.Client, name string) error {
	if name == "" {
		return errors.New("remove etcd member: empty name")
	}
	members, err := Members(ctx, cli)
	if err != nil {
		return fmt.Errorf("remove etcd member %q: %w", name, err)
	}
	for _, m := range members {
		if m.Name != name && (m.Name != "" || strconv.FormatUint(m.ID, 16) != name) {
			continue
		}
		err := whileUnhealthy(ctx, func() error {
			_, err := cli.MemberRemove(ctx, m.ID)
			return err
		})
		if err != nil && !errors.Is(err, rpctypes.ErrMemberNotFound) {
			return fmt.Errorf("remove etcd member %q (%x): %w", name, m.ID, err)
		}
	}
	return nil
}

// PromoteSelf makes this member, started with Join, a voter once it has
// caught up, and returns when the member itself has applied its promotion,
// so that Client serves from then on. A learner serves no membership
// requests itself, so it asks the voting members it knows of, over their
// client URLs. It is also how a joining server waits for a promotion that a
// voting member asked for (PromoteWhenReady), and it returns at once for a
// member that already votes.
func (m *Member) PromoteSelf(ctx context.Context) error {
	if !m.etcd.Server.IsLearner() {
		return nil
	}
	var endpoints []string
	self := m.etcd.Server.MemberID()
	for _, mem := range m.etcd.Server.Cluster().Members() {
		if mem.ID != self && !mem.IsLearner {
			endpoints = append(endpoints, mem.ClientURLs...)
		}
	}
	if len(endpoints) == 0 {
		return fmt.Errorf("promote etcd member %q: no voting member with a client URL is known yet", m.cfg.Name)
	}
	cli, err := newClient(m.cfg.Certs, endpoints, m.zap)
	if err != nil {
		return fmt.Errorf("promote etcd member %q: %w", m.cfg.Name, err)
	}
	defer cli.Close()
	if err := PromoteWhenReady(ctx, cli, m.ID()); err != nil {
		return err
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for m.etcd.Server.IsLearner() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd member %q was promoted but has not applied it: %w", m.cfg.Name, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// whileUnhealthy calls op again, with growing pauses, while etcd refuses a
// membership change because the member asked has not been connected to a
// quorum for long enough (etcdserver.HealthInterval), until ctx ends.
func whileUnhealthy(ctx context.Context, op func() error) error {
	wait := retryFirstWait
	for {
		err := op()
		if !errors.Is(err, rpctypes.ErrUnhealthy) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up waiting: %w)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMaxWait)
	}
}
