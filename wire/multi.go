package wire

// MultiHeader precedes each op of a multi request and each result of a
// multi response; a header with Done set ends the list.
type MultiHeader struct {
	Type OpCode
	Done bool
	Err  Code
}

// Encode implements Record.
func (h *MultiHeader) Encode(e *Encoder) { e.Int(int32(h.Type)); e.Bool(h.Done); e.Int(int32(h.Err)) }

// Decode implements Record.
func (h *MultiHeader) Decode(d *Decoder) {
	h.Type = OpCode(d.Int())
	h.Done = d.Bool()
	h.Err = Code(d.Int())
}

var multiEnd = MultiHeader{Type: -1, Done: true, Err: -1}

// MultiOp is one op of a multi or multiRead request. Body is the op's
// request record: *CreateRequest for create, create2, createContainer and
// createTTL (with HasTTL); *PathVersionRequest for delete and check;
// *SetDataRequest for setData; *PathWatchRequest for getData and
// getChildren (multiRead).
type MultiOp struct {
	Type OpCode
	Body Record
}

// MultiRequest is the body of multi (all-or-nothing writes) and multiRead
// (independent reads).
type MultiRequest struct {
	Ops []MultiOp
}

// Encode implements Record.
func (r *MultiRequest) Encode(e *Encoder) {
	for _, op := range r.Ops {
		h := MultiHeader{Type: op.Type, Done: false, Err: -1}
		h.Encode(e)
		op.Body.Encode(e)
	}
	multiEnd.Encode(e)
}

// multiOpBody returns an empty request record for an op allowed in a multi.
func multiOpBody(t OpCode) Record {
	switch t {
	case OpCreate, OpCreate2, OpCreateContainer:
		return &CreateRequest{}
	case OpCreateTTL:
		return &CreateRequest{HasTTL: true}
	case OpDelete, OpCheck:
		return &PathVersionRequest{}
	case OpSetData:
		return &SetDataRequest{}
	case OpGetData, OpGetChildren:
		return &PathWatchRequest{}
	}
	return nil
}

// Decode implements Record. An op type that cannot appear in a multi
// fails with ErrBadMultiOp.
func (r *MultiRequest) Decode(d *Decoder) {
	r.Ops = r.Ops[:0]
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		body := multiOpBody(h.Type)
		if body == nil {
			d.Fail(ErrBadMultiOp)
			return
		}
		body.Decode(d)
		r.Ops = append(r.Ops, MultiOp{Type: h.Type, Body: body})
	}
}

// MultiResult is one result of a multi or multiRead response. Type is the
// op's type, or OpError with Err set. Which other fields are meaningful
// depends on Type: Path for create; Path and Stat for create2; Stat for
// setData; Data and Stat for getData; Children for getChildren.
type MultiResult struct {
	Type     OpCode
	Err      Code
	Path     string
	Stat     Stat
	Data     []byte
	Children []string
}

// MultiResponse is the body of a multi or multiRead response.
type MultiResponse struct {
	Results []MultiResult
}

// Encode implements Record.
func (r *MultiResponse) Encode(e *Encoder) {
	for i := range r.Results {
		res := &r.Results[i]
		h := MultiHeader{Type: res.Type}
		if res.Type == OpError {
			h.Err = res.Err
		}
		h.Encode(e)
		switch res.Type {
		case OpCreate:
			e.String(res.Path)
		case OpCreate2:
			e.String(res.Path)
			res.Stat.Encode(e)
		case OpSetData:
			res.Stat.Encode(e)
		case OpGetData:
			e.Buffer(res.Data)
			res.Stat.Encode(e)
		case OpGetChildren:
			e.Strings(res.Children)
		case OpError:
			e.Int(int32(res.Err))
		}
	}
	multiEnd.Encode(e)
}

// Decode implements Record.
func (r *MultiResponse) Decode(d *Decoder) {
	r.Results = r.Results[:0]
	for d.Err() == nil {
		var h MultiHeader
		h.Decode(d)
		if d.Err() != nil || h.Done {
			return
		}
		res := MultiResult{Type: h.Type}
		switch h.Type {
		case OpCreate:
			res.Path = d.String()
		case OpCreate2:
			res.Path = d.String()
			res.Stat.Decode(d)
		case OpSetData:
			res.Stat.Decode(d)
		case OpGetData:
			res.Data = d.Buffer()
			res.Stat.Decode(d)
		case OpGetChildren:
			res.Children = d.Strings()
		case OpDelete, OpCheck:
		case OpError:
			res.Err = Code(d.Int())
		default:
			d.Fail(ErrBadMultiOp)
			return
		}
		r.Results = append(r.Results, res)
	}
}
