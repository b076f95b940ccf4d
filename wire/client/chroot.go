package client

import (
	"strings"

	"github.com/paddockdb/paddock/wire"
)

// fullPath puts a client path under the chroot.
func (c *Conn) fullPath(p string) string {
	if c.chroot == "" {
		return p
	}
	if p == "/" {
		return c.chroot
	}
	return c.chroot + p
}

// stripChroot takes the chroot off a server path. A path outside the
// chroot is returned unchanged.
func (c *Conn) stripChroot(p string) string {
	if c.chroot == "" {
		return p
	}
	if p == c.chroot {
		return "/"
	}
	if strings.HasPrefix(p, c.chroot) && len(p) > len(c.chroot) && p[len(c.chroot)] == '/' {
		return p[len(c.chroot):]
	}
	return p
}

// chrootRequest returns req with its paths under the chroot: a copy when
// anything changes, so the caller's record is never modified.
func (c *Conn) chrootRequest(req wire.Record) wire.Record {
	if c.chroot == "" {
		return req
	}
	switch r := req.(type) {
	case *wire.CreateRequest:
		cp := *r
		cp.Path = c.fullPath(r.Path)
		return &cp
	case *wire.PathVersionRequest:
		cp := *r
		cp.Path = c.fullPath(r.Path)
		return &cp
	case *wire.PathWatchRequest:
		cp := *r
		cp.Path = c.fullPath(r.Path)
		return &cp
	case *wire.SetDataRequest:
		cp := *r
		cp.Path = c.fullPath(r.Path)
		return &cp
	case *wire.PathRequest:
		cp := *r
		cp.Path = c.fullPath(r.Path)
		return &cp
	case *wire.SetACLRequest:
		cp := *r
		cp.Path = c.fullPath(r.Path)
		return &cp
	case *wire.WatchesRequest:
		cp := *r
		cp.Path = c.fullPath(r.Path)
		return &cp
	case *wire.AddWatchRequest:
		cp := *r
		cp.Path = c.fullPath(r.Path)
		return &cp
	case *wire.MultiRequest:
		cp := wire.MultiRequest{Ops: make([]wire.MultiOp, len(r.Ops))}
		for i, op := range r.Ops {
			cp.Ops[i] = wire.MultiOp{Type: op.Type, Body: c.chrootRequest(op.Body)}
		}
		return &cp
	}
	return req
}

// chrootResponse takes the chroot off the paths of a decoded response.
func (c *Conn) chrootResponse(op wire.OpCode, resp wire.Record) {
	if c.chroot == "" {
		return
	}
	switch r := resp.(type) {
	case *wire.PathRequest: // create, sync
		r.Path = c.stripChroot(r.Path)
	case *wire.Create2Response:
		r.Path = c.stripChroot(r.Path)
	case *wire.ChildrenResponse:
		if op == wire.OpGetEphemerals {
			for i, p := range r.Children {
				r.Children[i] = c.stripChroot(p)
			}
		}
	case *wire.MultiResponse:
		for i := range r.Results {
			if r.Results[i].Path != "" {
				r.Results[i].Path = c.stripChroot(r.Results[i].Path)
			}
		}
	}
}
