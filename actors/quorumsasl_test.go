package actors

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/paddockdb/paddock/actors/quorumauth"
)

// quorumSASL is a member's quorum SASL: the ensemble's QuorumServer users
// and its own QuorumLearner password.
func quorumSASL(password string, learnerRequire, serverRequire bool) *quorumauth.Config {
	return &quorumauth.Config{LearnerRequire: learnerRequire, ServerRequire: serverRequire,
		Mechanism: &quorumauth.Digest{Users: map[string]string{"learner": "quorumsecret"}, User: "learner", Password: password}}
}

// writeOn creates p through a client of member i and reads it back after
// a sync there: member i's requests reach the leader (a write and a sync
// are forwarded), and the leader's entries reach member i. The requests
// are retried while the connection is lost (on a loaded machine the
// leader can change meanwhile, and a member without one closes its
// clients).
func writeOn(t *testing.T, e *testEnsemble, i int, p string) {
	t.Helper()
	c := e.dial(i)
	defer c.Close()
	eventually(t, fmt.Sprintf("create %s on member %d and read it back", p, i+1), func() error {
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err // ErrNodeExists: acknowledged after all, the reply lost
		}
		if _, err := c.Sync(p); err != nil {
			return err
		}
		if b, _, err := c.Get(p); err != nil || string(b) != p {
			return fmt.Errorf("read %q, %v", b, err)
		}
		return nil
	})
}

// With quorum SASL required on every member, writes commit; a member
// restarted with a wrong QuorumLearner password sends nothing (its log
// says why), the others warn of it and still commit, and it does not
// count in the quorum: with only it beside it, the leader steps down.
func TestEnsembleQuorumSASL(t *testing.T) {
	logs := []*linesHandler{{}, {}, {}}
	password := []string{"quorumsecret", "quorumsecret", "quorumsecret"}
	e := startEnsembleWith(t, 3, 500*time.Millisecond, func(c *Config) {
		c.QuorumAuth = quorumSASL(password[c.ServerID-1], true, true)
		c.Logger = slog.New(logs[c.ServerID-1]).With("member", c.ServerID)
	})
	leader := e.waitLeader()
	for i := range 3 {
		writeOn(t, e, i, fmt.Sprintf("/sasl%d", i))
	}
	if l := logs[leader].find("INFO", "quorum SASL: a peer authenticated", "principal=learner"); l == "" {
		t.Errorf("the leader logged no authenticated peer")
	}
	// On the election port: a member that does not authenticate, and
	// one whose token is oversize, are closed with a warning.
	peer := uint64((leader+1)%3 + 1)
	for name, c := range map[string]struct {
		in   []byte
		warn string
	}{
		"no authentication": {appendHello(nil, peer, quorumauth.MechNone), "serverRequireSasl is true"},
		"oversize token":    {append(appendHello(nil, peer, quorumauth.MechDigest), 0x7f, 0xff, 0xff, 0xff), "length 2147483647"},
	} {
		nc, err := net.DialTimeout("tcp", e.members[leader].ElectionAddr, testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(testTimeout))
		if _, err := nc.Write(c.in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Fatalf("%s: the member did not close the connection: %v", name, err)
		}
		nc.Close()
		eventually(t, name+": the leader warns", func() error {
			if logs[leader].find("WARN", "member channel: quorum SASL: closing", c.warn) == "" {
				return errors.New("no warning")
			}
			return nil
		})
	}
	bad, good := (leader+1)%3, (leader+2)%3
	e.stop(bad)
	password[bad] = "wrong"
	e.restart(bad)
	eventually(t, "the member with the wrong password says why it cannot send", func() error {
		if l := logs[bad].find("WARN", "cannot authenticate", "rejected"); l != "" {
			t.Logf("member %d: %s", bad+1, l)
			return nil
		}
		return errors.New("no warning")
	})
	eventually(t, "the member with the wrong password cannot open the member channel", func() error {
		if logs[bad].find("WARN", "member channel: quorum SASL: cannot authenticate", "rejected") == "" {
			return errors.New("no warning")
		}
		return nil
	})
	eventually(t, "the leader warns of the member that fails to authenticate", func() error {
		if l := logs[leader].find("WARN", "closing the connection of a peer that did not authenticate", "mismatched response"); l != "" {
			t.Logf("leader: %s", l)
			return nil
		}
		return errors.New("no warning")
	})
	writeOn(t, e, good, "/without-the-bad-member")
	// The bad member receives the leader's messages (the leader
	// authenticates to it) but its answers never arrive: with the good
	// follower gone the leader hears from no quorum and steps down
	// (CheckQuorum).
	e.stop(good)
	waitStepDown(t, e, leader)
}

// waitStepDown waits until member leader no longer leads.
func waitStepDown(t *testing.T, e *testEnsemble, leader int) {
	t.Helper()
	s := e.servers[leader]
	deadline := time.After(testTimeout)
	for {
		id, changed := s.leaderID()
		if id != uint64(leader+1) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("member %d still leads with only the member that cannot authenticate beside it", leader+1)
		}
	}
}

// A rolling upgrade to quorum SASL, one member restarted at a time as
// ZooKeeper's guide orders it: quorum.auth.enableSasl on every member,
// then learnerRequireSasl, then serverRequireSasl. In every mixed step
// writes commit, and the restarted member talks to the leader both ways
// on both ports: its ReadIndex completes (its Raft messages reach the
// leader, and the answer comes back), it applies the latest write, and
// the leader hears its session touches on the member channel.
func TestEnsembleQuorumSASLRollingUpgrade(t *testing.T) {
	conf := make([]*quorumauth.Config, 3)
	e := startEnsembleWith(t, 3, 500*time.Millisecond, func(c *Config) { c.QuorumAuth = conf[c.ServerID-1] })
	w := e.dial(0, 1, 2)
	for stage, next := range []func() *quorumauth.Config{
		func() *quorumauth.Config { return quorumSASL("quorumsecret", false, false) },
		func() *quorumauth.Config { return quorumSASL("quorumsecret", true, false) },
		func() *quorumauth.Config { return quorumSASL("quorumsecret", true, true) },
	} {
		for i := range 3 {
			e.stop(i)
			conf[i] = next()
			e.restart(i)
			restarted := time.Now()
			p := fmt.Sprintf("/stage%d-member%d", stage, i+1)
			eventually(t, "a write after restarting member "+fmt.Sprint(i+1), func() error {
				_, err := w.Create(p, nil, 0, zk.WorldACL(zk.PermAll))
				if errors.Is(err, zk.ErrNodeExists) {
					return nil // acknowledged after all: the reply was lost in a move
				}
				return err
			})
			s := e.servers[i]
			eventually(t, "the restarted member's ReadIndex", func() error {
				rs, err := s.running.Load().ReadIndex(MetaShard, time.Second)
				if err != nil {
					return err
				}
				r := <-rs.ResultC()
				rs.Release()
				if !r.Completed() {
					return fmt.Errorf("read index not completed: %+v", r)
				}
				return nil
			})
			eventually(t, "the restarted member applies the write", func() error {
				if !strings.Contains(treeDump(s), p) {
					return fmt.Errorf("member %d has no %s", i+1, p)
				}
				return nil
			})
			if leader := e.waitLeader(); leader != i {
				eventually(t, "the leader hears the restarted member's touches", func() error {
					if heard, ok := e.servers[leader].members.lastHeard(uint64(i + 1)); !ok || heard.Before(restarted) {
						return fmt.Errorf("no touches from member %d since its restart", i+1)
					}
					return nil
				})
			}
		}
	}
}
