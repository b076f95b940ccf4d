// Package story is what the recipe examples share: the command line
// (-server, -session-timeout, -deadline), sessions standing for the
// machines of a story (each can be cut off from the servers, as a crash or
// a partition would, until the servers expire it), a log line per thing a
// party sees, and the exit status: 0 only when the story's promise held.
package story

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/paddockdb/paddock/wire"
	"github.com/paddockdb/paddock/wire/client"
)

// Story is one run of an example.
type Story struct {
	Servers        string        // the connect string
	SessionTimeout time.Duration // every party's session timeout
	ConnectTimeout time.Duration // how long opening a session may take

	start time.Time
	mu    sync.Mutex // serializes the output
}

// Main parses the command line, runs play and exits: 0 when it returned
// nil, 1 with the reason otherwise, 2 on a bad command line.
func Main(name, about string, play func(ctx context.Context, s *Story) error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s -server HOST:PORT[,HOST:PORT...] [flags]\n\n%s\n\n", name, about)
		fs.PrintDefaults()
	}
	servers := fs.String("server", "", "the ZooKeeper-protocol servers (Paddock or Apache ZooKeeper), as a connect string")
	timeout := fs.Duration("session-timeout", 4*time.Second, "every party's session timeout")
	deadline := fs.Duration("deadline", 2*time.Minute, "give up (and fail) after this long")
	connect := fs.Duration("connect-timeout", 15*time.Second, "how long a party may take to open its session")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *servers == "" || fs.NArg() > 0 || *timeout <= 0 || *deadline <= 0 || *connect <= 0 {
		fs.Usage()
		os.Exit(2)
	}
	s := &Story{Servers: *servers, SessionTimeout: *timeout, ConnectTimeout: *connect, start: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	err := play(ctx, s)
	cancel()
	if err != nil {
		s.Say(name, "FAIL: %v", err)
		os.Exit(1)
	}
	s.Say(name, "PASS: the story's promise held")
}

// Say prints what party saw, stamped with the time since the start.
func (s *Story) Say(party, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Printf("%8.3fs  %-14s %s\n", time.Since(s.start).Seconds(), party, fmt.Sprintf(format, args...))
}

// Elapsed is the time since the story started.
func (s *Story) Elapsed() time.Duration { return time.Since(s.start) }

// Party is a session standing for one machine of the story.
type Party struct {
	*client.Conn
	Name string

	s     *Story
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

// Connect opens party's session.
func (s *Story) Connect(ctx context.Context, party string) (*Party, error) {
	p := &Party{Name: party, s: s}
	ctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	defer cancel()
	c, err := client.Connect(ctx, s.Servers, client.WithSessionTimeout(s.SessionTimeout),
		client.WithDialer(p.dial), client.WithEventBuffer(-1))
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", party, err)
	}
	p.Conn = c
	return p, nil
}

func (p *Party) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return nil, fmt.Errorf("%s is cut off", p.Name)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err == nil {
		p.conns = append(p.conns, nc)
	}
	return nc, err
}

// Say prints what this party saw.
func (p *Party) Say(format string, args ...any) { p.s.Say(p.Name, format, args...) }

// CutOff closes the party's connections and keeps it from connecting
// again: to the servers it is a machine that died, and they expire its
// session after its timeout. Heal lets it reconnect (to learn of the
// expiry, or to resume the session if it was short).
func (p *Party) CutOff() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, nc := range p.conns {
		nc.Close()
	}
	p.conns = nil
}

// Heal undoes CutOff.
func (p *Party) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// Expired reports whether err says the session is gone.
func Expired(err error) bool { return errors.Is(err, wire.ErrSessionExpired) }

// EnsurePath creates path and its parents as persistent nodes where they
// do not exist.
func EnsurePath(ctx context.Context, c *client.Conn, path string) error {
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		_, err := c.Create(ctx, path[:i], nil, wire.ModePersistent, nil)
		if err != nil && !errors.Is(err, wire.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", path[:i], err)
		}
	}
	return nil
}

// DeleteAll deletes path and everything under it (it may not exist).
func DeleteAll(ctx context.Context, c *client.Conn, path string) error {
	kids, err := c.Children(ctx, path)
	if errors.Is(err, wire.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := DeleteAll(ctx, c, path+"/"+k); err != nil {
			return err
		}
	}
	if err := c.Delete(ctx, path, -1); err != nil && !errors.Is(err, wire.ErrNoNode) {
		return err
	}
	return nil
}

// Board is state a story's parties update and its checker waits on: Set
// changes it under the board's lock and wakes the waiter.
type Board struct {
	mu      sync.Mutex
	changed chan struct{}
}

// NewBoard returns an empty board.
func NewBoard() *Board { return &Board{changed: make(chan struct{}, 1)} }

// Set runs f under the board's lock, then wakes the waiter.
func (b *Board) Set(f func()) {
	b.mu.Lock()
	f()
	b.mu.Unlock()
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

// Read runs f under the board's lock.
func (b *Board) Read(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f()
}

// Wait returns once ok (run under the lock) holds, or fails when limit
// passes or ctx ends; what names the awaited thing in the error.
func (b *Board) Wait(ctx context.Context, what string, limit time.Duration, ok func() bool) error {
	deadline := time.After(limit)
	for {
		b.mu.Lock()
		done := ok()
		b.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-b.changed:
		case <-deadline:
			return fmt.Errorf("%s not seen within %v", what, limit)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
