package etcdmember

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestThreeMembers grows a cluster from one member to three the way servers
// join (AddLearner on an existing member, Start with Join, promotion), then
// loses a follower and a leader in turn and removes the leader.
func TestThreeMembers(t *testing.T) {
	ca := testCA(t)
	cfgs := map[string]Config{}
	for _, name := range []string{"a", "b", "c"} {
		cfgs[name] = testConfig(t, ca, name)
	}
	running := map[string]*Member{"a": start(t, cfgs["a"])}
	put(t, running["a"], "/before-join", "1")

	// b joins, and a promotes it.
	cfg := cfgs["b"]
	ic, err := AddLearner(ctxTimeout(t, 10*time.Second), running["a"].Client(), "b", cfg.peerURL())
	if err != nil {
		t.Fatal(err)
	}
	if want := "a=" + running["a"].PeerURL() + ",b=" + cfg.peerURL(); ic != want {
		t.Errorf("AddLearner(b) = %q, want %q", ic, want)
	}
	cfg.InitialCluster, cfg.Join = ic, true
	running["b"] = start(t, cfg)
	wantMembers(t, running["a"], map[string]bool{"a": false, "b": true})
	began := time.Now()
	if err := PromoteWhenReady(ctxTimeout(t, 20*time.Second), running["a"].Client(), running["b"].ID()); err != nil {
		t.Fatal(err)
	}
	t.Logf("b promoted %v after it started", time.Since(began).Round(time.Millisecond))
	// b learns of its promotion a moment later; PromoteSelf waits for that.
	if err := running["b"].PromoteSelf(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}

	// c joins; its first AddLearner answer is lost, so it asks again, and
	// promotes itself.
	cfg = cfgs["c"]
	first, err := AddLearner(ctxTimeout(t, 10*time.Second), running["b"].Client(), "c", cfg.peerURL())
	if err != nil {
		t.Fatal(err)
	}
	again, err := AddLearner(ctxTimeout(t, 10*time.Second), running["a"].Client(), "c", cfg.peerURL())
	if err != nil {
		t.Fatal(err)
	}
	if first != again || strings.Count(again, "=") != 3 || !strings.Contains(again, "c="+cfg.peerURL()) {
		t.Errorf("AddLearner(c) twice = %q then %q, want the same three members", first, again)
	}
	if _, err := AddLearner(ctxTimeout(t, 10*time.Second), running["a"].Client(), "b", "https://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "remove it first") {
		t.Errorf("AddLearner of a second member called b: %v, want an error", err)
	}
	cfg.InitialCluster, cfg.Join = again, true
	running["c"] = start(t, cfg)
	began = time.Now()
	if err := running["c"].PromoteSelf(ctxTimeout(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("c promoted itself %v after it started", time.Since(began).Round(time.Millisecond))
	if err := running["c"].PromoteSelf(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Errorf("PromoteSelf of a voter: %v", err)
	}
	wantMembers(t, running["c"], map[string]bool{"a": false, "b": false, "c": false})
	for name, m := range running {
		if got := get(t, m, "/before-join"); got != "1" {
			t.Errorf("%s: /before-join = %q, want 1", name, got)
		}
	}

	// A follower stops: the other two still take writes, and it catches up
	// when it comes back.
	follower := nonLeader(t, running)
	// A restart needs no initial cluster, even told to join.
	restart := running[follower].cfg
	restart.Join, restart.InitialCluster = true, ""
	running[follower].Stop()
	delete(running, follower)
	var written []string
	for name, m := range running {
		key := "/without-" + follower + "/" + name
		put(t, m, key, "1")
		written = append(written, key)
	}
	running[follower] = start(t, restart)
	for _, key := range written {
		if got := get(t, running[follower], key); got != "1" {
			t.Errorf("%s after restart: %s = %q, want the 1 written while it was down", follower, key, got)
		}
	}

	// The leader stops: the other two elect a new one and take writes.
	leader := leaderOf(t, running)
	running[leader].Stop()
	delete(running, leader)
	for name, m := range running {
		put(t, m, "/without-leader/"+name, "1")
	}
	var survivor *Member
	for _, m := range running {
		survivor = m
	}

	// The stopped leader is removed; removing it again is no error.
	if err := Remove(ctxTimeout(t, 10*time.Second), survivor.Client(), leader); err != nil {
		t.Fatal(err)
	}
	if err := Remove(ctxTimeout(t, 10*time.Second), survivor.Client(), leader); err != nil {
		t.Errorf("Remove of a removed member: %v", err)
	}
	want := map[string]bool{}
	for name := range running {
		want[name] = false
	}
	wantMembers(t, survivor, want)

	// Both stop; one alone waits for the other and says what it waits for.
	for _, m := range running {
		m.Stop()
	}
	cfg = survivor.cfg
	cfg.ReadyTimeout = time.Second
	if m, err := Start(t.Context(), cfg); err == nil {
		m.Stop()
		t.Error("one member of two started alone")
	} else if !strings.Contains(err.Error(), "quorum") || !strings.Contains(err.Error(), "peer ports") {
		t.Errorf("Start without quorum: %v, want a hint about quorum and peer ports", err)
	}
}

// TestRemoveRunning removes a running member: it reports that it stopped.
func TestRemoveRunning(t *testing.T) {
	ca := testCA(t)
	a := start(t, testConfig(t, ca, "a"))
	cfg := testConfig(t, ca, "b")
	ic, err := AddLearner(ctxTimeout(t, 10*time.Second), a.Client(), "b", cfg.peerURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.InitialCluster, cfg.Join = ic, true
	b := start(t, cfg)
	if err := PromoteWhenReady(ctxTimeout(t, 10*time.Second), b.Client(), b.ID()); err == nil || !strings.Contains(err.Error(), "PromoteSelf") {
		t.Errorf("PromoteWhenReady through the learner itself: %v, want an error that points to PromoteSelf", err)
	}
	// A learner has no say, so it goes without a quorum check.
	if err := Remove(ctxTimeout(t, 10*time.Second), a.Client(), "b"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.Err():
		if err == nil || !strings.Contains(err.Error(), "removed") {
			t.Errorf("Err = %v, want one that says the member may have been removed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("removed member did not report an error")
	}
	wantMembers(t, a, map[string]bool{"a": false})
}

func TestInitialClusterOf(t *testing.T) {
	members := []*etcdserverpb.Member{
		{ID: 0x1, Name: "a", PeerURLs: []string{"https://10.0.0.1:2380"}},
		{ID: 0x2, PeerURLs: []string{"https://10.0.0.2:2380"}},
		{ID: 0xab, PeerURLs: []string{"https://10.0.0.3:2380"}},
	}
	for _, tt := range []struct {
		name  string
		newID uint64
		want  string
	}{
		{"new member has no name yet", 0x2, "a=https://10.0.0.1:2380,b=https://10.0.0.2:2380,unstarted-ab=https://10.0.0.3:2380"},
		{"other unstarted member", 0xab, "a=https://10.0.0.1:2380,b=https://10.0.0.3:2380,unstarted-2=https://10.0.0.2:2380"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := initialClusterOf(members, tt.newID, "b"); got != tt.want {
				t.Errorf("initialClusterOf = %q, want %q", got, tt.want)
			}
		})
	}
}

// wantMembers checks m's view of the cluster: names to whether each is a
// learner.
func wantMembers(t *testing.T, m *Member, want map[string]bool) {
	t.Helper()
	got, err := Members(ctxTimeout(t, 10*time.Second), m.Client())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mi := range got {
		have[mi.Name] = mi.IsLearner
		if len(mi.PeerURLs) != 1 || mi.ID == 0 {
			t.Errorf("member %+v", mi)
		}
	}
	if len(have) != len(want) || len(got) != len(want) {
		t.Fatalf("members %+v, want %v", got, want)
	}
	for name, learner := range want {
		if l, ok := have[name]; !ok || l != learner {
			t.Errorf("members %+v, want %v (name: learner)", got, want)
		}
	}
}

func leaderOf(t *testing.T, running map[string]*Member) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for name, m := range running {
			if m.etcd.Server.Leader() == m.etcd.Server.MemberID() {
				return name
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader")
	return ""
}

func nonLeader(t *testing.T, running map[string]*Member) string {
	t.Helper()
	leader := leaderOf(t, running)
	var names []string
	for name := range running {
		if name != leader {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names[0]
}
