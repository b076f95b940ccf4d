package zoocfg

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/paddockdb/paddock/wire/kerberos"
)

// Kerberos is the server section's Krb5LoginModule: with it the client
// port speaks SASL GSSAPI, as ZooKeeper does when its JAAS Subject holds
// a Kerberos principal (SecurityUtils.createSaslServer).
type Kerberos struct {
	Principal string // service/host@REALM, as the JAAS principal option names it (realm added)
	Keytab    string // the keyTab option
	Acceptor  *kerberos.Acceptor
}

// krb5Options are the Krb5LoginModule options paddock reads or accepts
// without effect; any other option is warned about (the JDK ignores
// options it does not know).
var krb5NoEffect = []string{"doNotPrompt", "debug", "refreshKrb5Config", "renewTGT", "isInitiator",
	"useTicketCache", "ticketCache", "tryFirstPass", "useFirstPass", "storePass", "clearPass"}

// krb5Module returns the section's Krb5LoginModule, if it has one.
func (j *JAAS) krb5Module(section string) (JAASModule, bool) {
	for _, m := range j.Sections[section] {
		if m.Class == krb5LoginModule {
			return m, true
		}
	}
	return JAASModule{}, false
}

// loadKrb5Conf reads krb5.conf for its default_realm, which names
// principals without a realm and decides how authenticated names map
// (KerberosName's DEFAULT rule): from java.security.krb5.conf, else
// KRB5_CONFIG's first file, else /etc/krb5.conf. It is read when the
// property names it or the server speaks Kerberos (required); a file
// that does not parse stops the start, an absent default one means no
// default realm (as in a JVM without krb5.conf). A DIGEST-MD5 server
// without the property reads none: its names map with no default realm.
// It is read once; p.krb5 is the file, nil when none was read.
func (p *parser) loadKrb5Conf(required bool) {
	sc := &p.cfg.SASL
	path, explicit := sc.Krb5Conf, sc.Krb5Conf != ""
	if p.krb5Read || !explicit && !required {
		return // read already, or DIGEST-MD5 alone: names map as without krb5.conf
	}
	p.krb5Read = true
	if !explicit {
		path = kerberos.DefaultConfigPath()
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			p.krb5Missing = path
			return
		}
	}
	conf, err := kerberos.LoadConfig(path)
	if err != nil {
		p.errs = append(p.errs, &Error{File: path, Msg: fmt.Sprintf("cannot read krb5.conf: %v", err)})
		return
	}
	p.krb5, p.krb5Path = conf, path
	sc.DefaultRealm = conf.LibDefaults.DefaultRealm
}

// finishKerberos takes the client port's server section's
// Krb5LoginModule m: the acceptor of its principal (krb5Login).
func (p *parser) finishKerberos(j *JAAS, section string, m JAASModule) {
	if princ, kt, ok := p.krb5Login(j, section, m, true); ok {
		if acc, ok := p.krb5Acceptor(j, section, m, princ, kt); ok {
			p.cfg.SASL.Kerberos = &Kerberos{Principal: princ.String(), Keytab: m.Options["keyTab"], Acceptor: acc}
		}
	}
}

// krb5Login checks the Krb5LoginModule m of section as the JDK's module
// and ZooKeeper would at start, and returns its principal (the realm
// added) and keytab: a keytab that cannot be read or holds no key for
// the principal stops the server with the file, the line and the
// reason. An acceptor (a server section) needs storeKey=true, as the
// JDK keeps no key to accept tickets with otherwise. Paddock never
// contacts the KDC here: the keytab is all an acceptor needs, and a
// learner logs in when it connects (ZooKeeper logs in at start when
// isInitiator is true, its default).
func (p *parser) krb5Login(j *JAAS, section string, m JAASModule, acceptor bool) (kerberos.Principal, *keytab.Keytab, bool) {
	fail := func(format string, args ...any) (kerberos.Principal, *keytab.Keytab, bool) {
		p.errs = append(p.errs, krb5Error(j, section, m, format, args...))
		return kerberos.Principal{}, nil, false
	}
	for _, other := range j.Sections[section] {
		switch other.Class {
		case krb5LoginModule:
		case DigestLoginModule:
			p.cfg.Warnings = append(p.cfg.Warnings, Warning{File: j.File, Line: other.Line, Msg: fmt.Sprintf(
				"section %s: %s is not used: with a Kerberos principal in the section only GSSAPI is spoken, as in ZooKeeper", section, DigestLoginModule)})
		default:
			return fail("unknown login module %s beside it", other.Class)
		}
	}
	opt := func(k string) string { return m.Options[k] }
	isTrue := func(k string) bool { return strings.EqualFold(opt(k), "true") } // Boolean.parseBoolean
	example, why := "zookeeper/host@REALM", "paddock accepts tickets for one principal"
	if !acceptor {
		example, why = "learner/host@REALM", "the principal this member logs in as"
	}
	switch {
	case !isTrue("useKeyTab"):
		if acceptor {
			return fail("useKeyTab=true is needed: a server authenticates clients with the keys of its keytab")
		}
		return fail("useKeyTab=true is needed: a member logs in with the keys of its keytab (paddock reads no ticket cache and asks for no password)")
	case opt("keyTab") == "":
		return fail("keyTab=\"/path/to/zookeeper.keytab\" is needed")
	case acceptor && !isTrue("storeKey"):
		return fail("storeKey=true is needed: without it the JDK keeps no key to accept tickets with, and neither can paddock")
	case opt("principal") == "" || opt("principal") == "*":
		return fail("principal=%q is needed (%s)", example, why)
	}
	keys := make([]string, 0, len(m.Options))
	for k := range m.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case k == "useKeyTab" || k == "keyTab" || k == "storeKey" || k == "principal":
		case slices.Contains(krb5NoEffect, k):
		default:
			p.cfg.Warnings = append(p.cfg.Warnings, Warning{File: j.File, Line: m.Line, Msg: fmt.Sprintf(
				"section %s: %s option %s is unknown; ignored", section, krb5LoginModule, k)})
		}
	}
	princ, err := kerberos.ParsePrincipal(opt("principal"), p.cfg.SASL.DefaultRealm)
	if err != nil {
		return fail("%v", err)
	}
	kt, err := keytab.Load(opt("keyTab"))
	if err != nil {
		return fail("cannot read the keytab %s: %v", opt("keyTab"), err)
	}
	return princ, kt, true
}

// krb5Acceptor is the acceptor of princ with the keys of kt, from
// section's Krb5LoginModule m (krb5Login).
func (p *parser) krb5Acceptor(j *JAAS, section string, m JAASModule, princ kerberos.Principal, kt *keytab.Keytab) (*kerberos.Acceptor, bool) {
	acc, err := kerberos.NewAcceptor(kt, princ)
	if err != nil {
		p.errs = append(p.errs, krb5Error(j, section, m, "keytab %s: %v", m.Options["keyTab"], err))
		return nil, false
	}
	return acc, true
}

func krb5Error(j *JAAS, section string, m JAASModule, format string, args ...any) error {
	return &Error{File: j.File, Line: m.Line, Msg: fmt.Sprintf("section %s: %s: ", section, krb5LoginModule) + fmt.Sprintf(format, args...)}
}
