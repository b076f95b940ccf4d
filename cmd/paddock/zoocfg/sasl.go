package zoocfg

import (
	"fmt"
	"strings"
)

// finishSASL checks the SASL and enforced-authentication settings together,
// as ZooKeeper does at start-up: ServerCnxnFactory.configureSaslLogin
// reads the JAAS file (one that does not parse stops the server), and
// AuthenticationHelper refuses enforce.auth.enabled without schemes or
// with a scheme no provider is registered for. sessionRequireClientSASLAuth
// wins over enforce.auth.*, as in ZooKeeper.
func (p *parser) finishSASL() {
	sc := &p.cfg.SASL
	if sc.JAASFile != "" {
		section := sc.Section
		if section == "" {
			section = "Server"
		}
		j, err := ReadJAAS(sc.JAASFile)
		krb5, isKrb5 := JAASModule{}, false
		if err == nil {
			p.jaas = j // the quorum SASL sections are read from it too (quorumsasl.go)
			krb5, isKrb5 = j.krb5Module(section)
		}
		p.loadKrb5Conf(isKrb5)
		switch {
		case err != nil:
			p.errs = append(p.errs, err)
		case isKrb5:
			p.finishKerberos(j, section, krb5)
		default:
			users, ok, err := j.DigestUsers(section)
			switch {
			case err != nil:
				p.errs = append(p.errs, err)
			case !ok:
				// ZooKeeper starts without a SASL server then; say so.
				p.cfg.Warnings = append(p.cfg.Warnings, Warning{File: sc.JAASFile, Msg: fmt.Sprintf(
					"no login entry %q: the server has no SASL users (a sasl request is answered with no token, as in ZooKeeper)", section)})
			default:
				sc.Users = users
			}
		}
	} else if sc.Section != "" {
		p.errs = append(p.errs, &Error{File: p.name, Msg: "zookeeper.sasl.serverconfig is set but no JAAS file (java.security.auth.login.config, or --jaas) is given"})
	}

	var schemes []string
	var at setting
	if s := p.requireSASL; s != nil {
		if b, ok := p.propBool(*s); ok && b {
			schemes, at = []string{"sasl"}, *s
		}
	}
	if schemes == nil && p.enforceAuth != nil {
		if b, ok := p.propBool(*p.enforceAuth); ok && b {
			at = *p.enforceAuth
			if p.enforceSchemes != nil {
				for _, x := range strings.Split(p.enforceSchemes.value, ",") {
					if x = strings.TrimSpace(x); x != "" {
						schemes = append(schemes, x)
					}
				}
			}
			if len(schemes) == 0 {
				p.propErrorf(at, "zookeeper.enforce.auth.enabled is true: zookeeper.enforce.auth.schemes must be configured")
				return
			}
		}
	}
	for _, x := range schemes {
		switch x {
		case "digest", "ip":
		case "sasl":
			if !sc.Provider {
				p.propErrorf(at, "authentication scheme sasl is not available: add authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider")
				return
			}
		default:
			p.propErrorf(at, "authentication scheme %s is not available", x)
			return
		}
	}
	p.cfg.EnforceAuth = schemes
}
