package conform

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paddockdb/paddock/wire"
)

// zxid names a zxid by its first appearance in the transcript: z1, z2, ...
// Zero stays 0 (the root's czxid). Two servers agree on the names when
// they agree on which zxids are equal and in which order they appear,
// whatever the values.
func (r *runner) zxid(v int64) string {
	if v == 0 {
		return "0"
	}
	if v < 0 {
		return strconv.FormatInt(v, 10)
	}
	if n, ok := r.zxNames[v]; ok {
		return n
	}
	n := "z" + strconv.Itoa(len(r.zxNames)+1)
	r.zxNames[v] = n
	r.zxValues[n] = v
	return n
}

// timeOf prints a ctime: 0, now (within ten minutes of the run) or far.
func (r *runner) timeOf(ms int64) string {
	if ms == 0 {
		return "0"
	}
	t := time.UnixMilli(ms)
	if t.After(r.start.Add(-10*time.Minute)) && t.Before(time.Now().Add(10*time.Minute)) {
		return "now"
	}
	return "far"
}

// owner prints ephemeralOwner: - for none, the session's name, or the
// container and TTL encodings of ZooKeeper's EphemeralType.
func (r *runner) owner(v int64) string {
	switch {
	case v == 0:
		return "-"
	case uint64(v) == 1<<63:
		return "container"
	case uint64(v)>>56 == 0xff:
		return "ttl(" + strconv.FormatInt(v&0x00ffffffffffffff, 10) + ")"
	}
	if n, ok := r.owners[v]; ok {
		return n
	}
	return "unknown-session"
}

func (r *runner) stat(s *wire.Stat) string {
	mtime := "mtime=ctime"
	switch {
	case s.Mzxid == s.Czxid && s.Mtime != s.Ctime:
		mtime = "mtime!=ctime"
	case s.Mzxid != s.Czxid && s.Mtime >= s.Ctime:
		mtime = "mtime>=ctime"
	case s.Mzxid != s.Czxid:
		mtime = "mtime<ctime"
	}
	return fmt.Sprintf("{czxid=%s mzxid=%s pzxid=%s ctime=%s %s version=%d cversion=%d aversion=%d ephemeralOwner=%s dataLength=%d numChildren=%d}",
		r.zxid(s.Czxid), r.zxid(s.Mzxid), r.zxid(s.Pzxid), r.timeOf(s.Ctime), mtime,
		s.Version, s.Cversion, s.Aversion, r.owner(s.EphemeralOwner), s.DataLength, s.NumChildren)
}

func data(b []byte) string {
	switch {
	case b == nil:
		return "data=null"
	case len(b) > 64:
		if strings.Count(string(b), "x") == len(b) {
			return "data=@" + strconv.Itoa(len(b))
		}
		return fmt.Sprintf("data=<%d bytes>", len(b))
	}
	return "data=" + strconv.Quote(string(b))
}

func children(c []string) string {
	if c == nil {
		return "children=null"
	}
	c = slices.Clone(c)
	slices.Sort(c)
	return "children=[" + strings.Join(c, " ") + "]"
}

func acls(a []wire.ACL) string {
	if a == nil {
		return "acl=null"
	}
	var parts []string
	for _, x := range a {
		parts = append(parts, x.ID.Scheme+":"+x.ID.ID+":"+permString(x.Perms))
	}
	// Order carries no meaning in an ACL, and ZooKeeper's expansion of
	// the auth scheme follows its internal set order.
	slices.Sort(parts)
	return "acl=[" + strings.Join(parts, " ") + "]"
}

// formatReply prints a reply's result: the code and, on success, the
// body. Bytes the body does not account for are printed as trailing=N.
func (r *runner) formatReply(p *pending, h wire.ReplyHeader, d *wire.Decoder) string {
	if p.raw && !(h.Err == wire.Ok && p.op.Known()) {
		if d.Remaining() > 0 {
			return fmt.Sprintf("%s body=%d bytes", codeName(h.Err), d.Remaining())
		}
		return codeName(h.Err)
	}
	if h.Err != wire.Ok {
		// Clients read no body after an error (ClientCnxn), so neither do we.
		return codeName(h.Err)
	}
	var out string
	switch p.op {
	case wire.OpMulti, wire.OpMultiRead:
		if d.Remaining() == 0 {
			return codeName(h.Err)
		}
		var m wire.MultiResponse
		m.Decode(d)
		if d.Err() != nil {
			return fmt.Sprintf("%s undecodable multi response: %v", codeName(h.Err), d.Err())
		}
		var b strings.Builder
		b.WriteString(codeName(h.Err))
		for i, res := range m.Results {
			b.WriteString("\n    ")
			if i < len(p.subText) {
				b.WriteString(p.subText[i] + " -> ")
			}
			b.WriteString(r.multiResult(&res))
		}
		if len(m.Results) != len(p.subText) {
			fmt.Fprintf(&b, "\n    !%d results for %d ops", len(m.Results), len(p.subText))
		}
		out = b.String()
	default:
		out = r.body(p.op, d)
	}
	if d.Err() != nil {
		return fmt.Sprintf("%s undecodable body: %v", out, d.Err())
	}
	if d.Remaining() > 0 {
		out += fmt.Sprintf(" trailing=%d", d.Remaining())
	}
	return out
}

func (r *runner) body(op wire.OpCode, d *wire.Decoder) string {
	switch op {
	case wire.OpCreate, wire.OpSync:
		var x wire.PathRequest
		x.Decode(d)
		return "ok path=" + x.Path
	case wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		var x wire.Create2Response
		x.Decode(d)
		return "ok path=" + x.Path + " " + r.stat(&x.Stat)
	case wire.OpExists, wire.OpSetData, wire.OpSetACL:
		var x wire.StatResponse
		x.Decode(d)
		return "ok " + r.stat(&x.Stat)
	case wire.OpGetData, wire.OpReconfig:
		var x wire.GetDataResponse
		x.Decode(d)
		return "ok " + data(x.Data) + " " + r.stat(&x.Stat)
	case wire.OpGetACL:
		var x wire.GetACLResponse
		x.Decode(d)
		return "ok " + acls(x.ACL) + " " + r.stat(&x.Stat)
	case wire.OpGetChildren, wire.OpGetEphemerals:
		var x wire.ChildrenResponse
		x.Decode(d)
		return "ok " + children(x.Children)
	case wire.OpGetChildren2:
		var x wire.Children2Response
		x.Decode(d)
		return "ok " + children(x.Children) + " " + r.stat(&x.Stat)
	case wire.OpGetAllChildrenNumber:
		var x wire.CountResponse
		x.Decode(d)
		return "ok count=" + strconv.Itoa(int(x.Count))
	case wire.OpWhoAmI:
		var x wire.WhoAmIResponse
		x.Decode(d)
		var ids []string
		for _, c := range x.ClientInfo {
			ids = append(ids, c.AuthScheme+":"+c.User)
		}
		if x.ClientInfo == nil {
			return "ok ids=null"
		}
		slices.Sort(ids)
		return "ok ids=[" + strings.Join(ids, " ") + "]"
	case wire.OpAddWatch:
		// ZooKeeper sends an ErrorResponse(0) body; print it only if it is
		// something else.
		if d.Remaining() == 4 {
			var x wire.ErrorResponse
			x.Decode(d)
			return "ok body=ErrorResponse(" + codeName(x.Err) + ")"
		}
		return "ok"
	}
	return "ok"
}

func (r *runner) multiResult(res *wire.MultiResult) string {
	switch res.Type {
	case wire.OpError:
		return "error=" + codeName(res.Err)
	case wire.OpCreate:
		return "ok path=" + res.Path
	case wire.OpCreate2:
		return "ok path=" + res.Path + " " + r.stat(&res.Stat)
	case wire.OpSetData:
		return "ok " + r.stat(&res.Stat)
	case wire.OpGetData:
		return "ok " + data(res.Data) + " " + r.stat(&res.Stat)
	case wire.OpGetChildren:
		return "ok " + children(res.Children)
	case wire.OpDelete, wire.OpCheck:
		return "ok"
	}
	return "result type " + res.Type.String()
}
