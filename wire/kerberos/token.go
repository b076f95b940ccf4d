package kerberos

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// MaxToken bounds every token this package decodes (RFC 2743 initial
// context tokens and RFC 4121 wrap tokens): a longer one is an error
// before it is parsed. Tickets with large authorization data stay well
// under it.
const MaxToken = 256 << 10

// krb5OID is the DER encoding (tag, length, value) of the Kerberos V5
// mechanism's OID, 1.2.840.113554.1.2.2 (RFC 1964).
var krb5OID = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}

// The TOK_ID of the krb5 mechanism's context tokens (RFC 4121 4.1).
var (
	tokAPReq    = [2]byte{0x01, 0x00}
	tokAPRep    = [2]byte{0x02, 0x00}
	tokKRBError = [2]byte{0x03, 0x00}
)

// frameContextToken wraps a krb5 context message in RFC 2743 section
// 3.1's framing: [APPLICATION 0] { mech OID, TOK_ID, message }.
func frameContextToken(id [2]byte, msg []byte) []byte {
	n := len(krb5OID) + 2 + len(msg)
	out := make([]byte, 0, 6+n)
	out = append(out, 0x60)
	out = appendDERLength(out, n)
	out = append(out, krb5OID...)
	out = append(out, id[:]...)
	return append(out, msg...)
}

func appendDERLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	default:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
}

// parseContextToken undoes frameContextToken: it checks the framing, the
// length, the mechanism (krb5 only) and returns the TOK_ID and the
// Kerberos message after it.
func parseContextToken(tok []byte) (id [2]byte, msg []byte, err error) {
	if len(tok) > MaxToken {
		return id, nil, failf("token of %d bytes, over the limit of %d", len(tok), MaxToken)
	}
	if len(tok) < 2 || tok[0] != 0x60 {
		return id, nil, failf("not a GSS-API initial context token (RFC 2743 3.1): it does not start with 0x60")
	}
	n, hdr, ok := readDERLength(tok[1:])
	if !ok || n != len(tok)-1-hdr {
		return id, nil, failf("GSS-API token length does not match its %d bytes", len(tok))
	}
	body := tok[1+hdr:]
	if len(body) < 2 || body[0] != 0x06 {
		return id, nil, failf("GSS-API token without a mechanism OID")
	}
	if !bytes.HasPrefix(body, krb5OID) {
		return id, nil, failf("GSS-API token for another mechanism than Kerberos V5 (1.2.840.113554.1.2.2)")
	}
	body = body[len(krb5OID):]
	if len(body) < 2 {
		return id, nil, failf("krb5 token without a TOK_ID")
	}
	copy(id[:], body)
	return id, body[2:], nil
}

// readDERLength reads a DER length (short form, or long form of up to 3
// bytes): the length, the bytes it took, and whether it was well formed.
func readDERLength(b []byte) (n, used int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0] < 0x80 {
		return int(b[0]), 1, true
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 3 || len(b) < 1+k {
		return 0, 0, false
	}
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n < 0x80 || (k > 1 && b[1] == 0) { // not minimal: not DER
		return 0, 0, false
	}
	return n, 1 + k, true
}

// The GSS checksum of an AP-REQ authenticator (RFC 4121 4.1.1).
const (
	gssChecksumType = 0x8003
	flagDeleg       = 1
	flagMutual      = 2
	flagReplay      = 4
	flagSequence    = 8
	flagConf        = 16
	flagInteg       = 32
)

// gssChecksum is the authenticator checksum an initiator sends: no
// channel bindings, the context flags.
func gssChecksum(flags uint32) types.Checksum {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:4], 16)
	binary.LittleEndian.PutUint32(b[20:24], flags)
	return types.Checksum{CksumType: gssChecksumType, Checksum: b}
}

// checksumFlags reads the context flags of an authenticator's GSS
// checksum. The channel bindings are not checked: the acceptor has none
// (RFC 4121 4.1.1.2 lets it ignore them then).
func checksumFlags(c types.Checksum) (uint32, error) {
	if c.CksumType != gssChecksumType {
		return 0, failf("authenticator checksum of type %d, not the GSS checksum 0x8003 (RFC 4121 4.1.1)", c.CksumType)
	}
	if len(c.Checksum) < 24 || binary.LittleEndian.Uint32(c.Checksum[0:4]) != 16 {
		return 0, failf("malformed GSS authenticator checksum (%d bytes)", len(c.Checksum))
	}
	return binary.LittleEndian.Uint32(c.Checksum[20:24]), nil
}

// The flags of an RFC 4121 wrap token.
const (
	wrapSentByAcceptor = 1
	wrapSealed         = 2
	wrapAcceptorSubkey = 4
	wrapHeader         = 16
)

// cfxEtype reports whether keys of etype use RFC 4121's tokens. The
// older enctypes (DES, 3DES, RC4) use RFC 1964's, which this package
// does not build: a context keyed with one is refused.
func cfxEtype(e int32) bool {
	switch e {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96,
		etypeID.AES128_CTS_HMAC_SHA256_128, etypeID.AES256_CTS_HMAC_SHA384_192:
		return true
	}
	return false
}

// wrap builds an RFC 4121 wrap token without confidentiality (what SASL
// GSSAPI's security-layer negotiation uses): header, payload, checksum
// over payload and header (EC and RRC zero, RFC 4121 4.2.4).
func wrap(key types.EncryptionKey, acceptor, acceptorSubkey bool, seq uint64, payload []byte) ([]byte, error) {
	var flags byte
	usage := uint32(keyusage.GSSAPI_INITIATOR_SEAL)
	if acceptor {
		flags |= wrapSentByAcceptor
		usage = keyusage.GSSAPI_ACCEPTOR_SEAL
	}
	if acceptorSubkey {
		flags |= wrapAcceptorSubkey
	}
	sum, err := wrapChecksum(key, usage, flags, seq, payload)
	if err != nil {
		return nil, err
	}
	out := make([]byte, wrapHeader, wrapHeader+len(payload)+len(sum))
	out[0], out[1], out[2], out[3] = 0x05, 0x04, flags, 0xff
	binary.BigEndian.PutUint16(out[4:6], uint16(len(sum)))
	binary.BigEndian.PutUint64(out[8:16], seq)
	out = append(out, payload...)
	return append(out, sum...), nil
}

func wrapChecksum(key types.EncryptionKey, usage uint32, flags byte, seq uint64, payload []byte) ([]byte, error) {
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, failf("context key: %v", err)
	}
	data := make([]byte, 0, len(payload)+wrapHeader)
	data = append(data, payload...)
	data = append(data, 0x05, 0x04, flags, 0xff, 0, 0, 0, 0)
	data = binary.BigEndian.AppendUint64(data, seq)
	sum, err := et.GetChecksumHash(key.KeyValue, data, usage)
	if err != nil {
		return nil, failf("wrap checksum: %v", err)
	}
	return sum, nil
}

// unwrap checks an RFC 4121 wrap token from the peer (fromAcceptor says
// which side the peer is) and returns its payload and sequence number. A
// sealed token is refused: SASL's negotiation never asks for
// confidentiality here. The right rotation (RRC) is undone first.
func unwrap(key types.EncryptionKey, fromAcceptor bool, tok []byte) (payload []byte, seq uint64, err error) {
	if len(tok) > MaxToken {
		return nil, 0, failf("wrap token of %d bytes, over the limit of %d", len(tok), MaxToken)
	}
	if len(tok) < wrapHeader || tok[0] != 0x05 || tok[1] != 0x04 {
		return nil, 0, failf("not an RFC 4121 wrap token")
	}
	flags := tok[2]
	if tok[3] != 0xff {
		return nil, 0, failf("wrap token filler byte %#x, want 0xff", tok[3])
	}
	if (flags&wrapSentByAcceptor != 0) != fromAcceptor {
		return nil, 0, failf("wrap token sent by the wrong side (flags %#x)", flags)
	}
	if flags&wrapSealed != 0 {
		return nil, 0, failf("sealed wrap token: confidentiality was not negotiated")
	}
	if flags&^(wrapSentByAcceptor|wrapSealed|wrapAcceptorSubkey) != 0 {
		return nil, 0, failf("wrap token with unknown flags %#x", flags)
	}
	ec := int(binary.BigEndian.Uint16(tok[4:6]))
	rrc := int(binary.BigEndian.Uint16(tok[6:8]))
	seq = binary.BigEndian.Uint64(tok[8:16])
	data := tok[wrapHeader:]
	if len(data) > 0 && rrc%len(data) != 0 {
		r := rrc % len(data)
		data = append(append([]byte{}, data[r:]...), data[:r]...)
	}
	if ec > len(data) {
		return nil, 0, failf("wrap token checksum length %d over its %d bytes", ec, len(data))
	}
	payload, sum := data[:len(data)-ec], data[len(data)-ec:]
	usage := uint32(keyusage.GSSAPI_INITIATOR_SEAL)
	if fromAcceptor {
		usage = keyusage.GSSAPI_ACCEPTOR_SEAL
	}
	want, err := wrapChecksum(key, usage, flags, seq, payload)
	if err != nil {
		return nil, 0, err
	}
	if !hmac.Equal(sum, want) {
		return nil, 0, failf("wrap token checksum does not verify (another key, or a forged token)")
	}
	return payload, seq, nil
}

// unwrapNext is unwrap of the peer's next token, whose sequence number
// must be want: another one is a replayed or reordered token.
func unwrapNext(key types.EncryptionKey, fromAcceptor bool, tok []byte, want uint64) ([]byte, error) {
	msg, seq, err := unwrap(key, fromAcceptor, tok)
	if err != nil {
		return nil, err
	}
	if seq != want {
		return nil, failf("wrap token sequence number %d, want %d (a replayed or reordered token)", seq, want)
	}
	return msg, nil
}

// layerToken is the 4-byte security-layer message of RFC 4752 3.1: the
// layers bitmask (or the chosen layer) and a 3-byte max buffer size,
// followed (from the client) by the authorization id.
func layerToken(layers byte, maxBuf int, authzid string) []byte {
	b := []byte{layers, byte(maxBuf >> 16), byte(maxBuf >> 8), byte(maxBuf)}
	return append(b, authzid...)
}

// The RFC 4752 security layers.
const (
	layerNone      = 1
	layerIntegrity = 2
	layerPrivacy   = 4
)
