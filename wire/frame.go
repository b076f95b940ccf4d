package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ReadFrame reads one length-prefixed frame from r and returns its body.
// It reuses buf when it is large enough. A length that is negative or
// larger than max fails with ErrPacketTooLarge before anything is
// allocated, so a peer cannot make us allocate more than max bytes.
func ReadFrame(r io.Reader, buf []byte, max int) ([]byte, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(lenBuf[:]))
	if n < 0 || int(n) > max {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrPacketTooLarge, n, max)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// AppendFrame appends to dst one frame holding the records, in order,
// behind their 4-byte big-endian length.
func AppendFrame(dst []byte, records ...Record) []byte {
	start := len(dst)
	e := Encoder{buf: append(dst, 0, 0, 0, 0)}
	for _, r := range records {
		r.Encode(&e)
	}
	binary.BigEndian.PutUint32(e.buf[start:], uint32(len(e.buf)-start-4))
	return e.buf
}

// RequestBody returns an empty record for the body of a request with
// opcode op, or nil if op is not a request a client sends.
// Requests with no body (ping, closeSession, whoAmI) give Empty.
func RequestBody(op OpCode) Record {
	if b := multiOpBody(op); b != nil { // the ops a multi may hold have the same bodies alone
		return b
	}
	switch op {
	case OpExists, OpGetChildren2:
		return &PathWatchRequest{}
	case OpGetACL, OpSync, OpGetAllChildrenNumber, OpGetEphemerals, OpDeleteContainer:
		return &PathRequest{}
	case OpSetACL:
		return &SetACLRequest{}
	case OpMulti, OpMultiRead:
		return &MultiRequest{}
	case OpReconfig:
		return &ReconfigRequest{}
	case OpCheckWatches, OpRemoveWatches:
		return &WatchesRequest{}
	case OpAddWatch:
		return &AddWatchRequest{}
	case OpSetWatches:
		return &SetWatchesRequest{}
	case OpSetWatches2:
		return &SetWatchesRequest{V2: true}
	case OpAuth:
		return &AuthPacket{}
	case OpSASL:
		return &SASLPacket{}
	case OpPing, OpCloseSession, OpWhoAmI:
		return Empty{}
	}
	return nil
}

// ResponseBody returns an empty record for the body of a successful
// response to a request with opcode op, or nil if op is not a request a
// client sends. Responses with no body give Empty.
func ResponseBody(op OpCode) Record {
	switch op {
	case OpCreate, OpSync:
		return &PathRequest{}
	case OpCreate2, OpCreateContainer, OpCreateTTL:
		return &Create2Response{}
	case OpExists, OpSetData, OpSetACL:
		return &StatResponse{}
	case OpGetData, OpReconfig:
		return &GetDataResponse{}
	case OpGetACL:
		return &GetACLResponse{}
	case OpGetChildren, OpGetEphemerals:
		return &ChildrenResponse{}
	case OpGetChildren2:
		return &Children2Response{}
	case OpGetAllChildrenNumber:
		return &CountResponse{}
	case OpMulti, OpMultiRead:
		return &MultiResponse{}
	case OpWhoAmI:
		return &WhoAmIResponse{}
	case OpSASL:
		return &SASLPacket{}
	case OpAddWatch:
		// ZooKeeper answers addWatch with ErrorResponse(0), a 4-byte body
		// the Java client insists on reading (FinalRequestProcessor).
		return &ErrorResponse{}
	case OpDelete, OpCheck, OpDeleteContainer, OpPing, OpCloseSession, OpAuth,
		OpSetWatches, OpSetWatches2, OpCheckWatches, OpRemoveWatches:
		return Empty{}
	}
	return nil
}

// RequestPath returns the znode path a request body names, or "" for a
// body without one (ping, auth, setWatches, multi, ...).
func RequestPath(body Record) string {
	switch r := body.(type) {
	case *PathRequest:
		return r.Path
	case *PathWatchRequest:
		return r.Path
	case *CreateRequest:
		return r.Path
	case *PathVersionRequest:
		return r.Path
	case *SetDataRequest:
		return r.Path
	case *SetACLRequest:
		return r.Path
	case *WatchesRequest:
		return r.Path
	case *AddWatchRequest:
		return r.Path
	}
	return ""
}
