package statemachine

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ZooKeeper's reserved paths and quota node names (Quotas.java).
const (
	procPath   = "/zookeeper"
	quotaPath  = "/zookeeper/quota"
	configPath = "/zookeeper/config"
	limitNode  = "zookeeper_limits"
	statNode   = "zookeeper_stats"
)

func quotaLimitPath(p string) string { return quotaPath + p + "/" + limitNode }
func quotaStatPath(p string) string  { return quotaPath + p + "/" + statNode }

// statsTrack is ZooKeeper's StatsTrack: "count=N,bytes=M" followed, when
// other keys are present, by "=;key=value..." in key order. A value of -1
// (or a missing key) means no limit.
type statsTrack map[string]int64

var pairsSep = regexp.MustCompile(`[,;]+`)

func parseStats(b []byte) statsTrack {
	st := statsTrack{}
	s := string(b)
	if s == "" {
		return st
	}
	for _, kv := range pairsSep.Split(s, -1) {
		parts := strings.Split(kv, "=")
		n := len(parts)
		for n > 0 && parts[n-1] == "" { // Java's split drops trailing empties
			n--
		}
		if n < 2 {
			continue // Java would throw; a malformed pair is ignored here
		}
		v, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			continue
		}
		st[parts[0]] = v
	}
	return st
}

func (st statsTrack) get(k string) int64 {
	if v, ok := st[k]; ok {
		return v
	}
	return -1
}

func (st statsTrack) bytes() []byte {
	var b strings.Builder
	b.WriteString("count=")
	b.WriteString(strconv.FormatInt(st.get("count"), 10))
	b.WriteString(",bytes=")
	b.WriteString(strconv.FormatInt(st.get("bytes"), 10))
	var keys []string
	for k := range st {
		if k != "count" && k != "bytes" {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		b.WriteString("=")
		for _, k := range keys {
			b.WriteString(";")
			b.WriteString(k)
			b.WriteString("=")
			b.WriteString(strconv.FormatInt(st[k], 10))
		}
	}
	return []byte(b.String())
}

// maxQuotaPrefix is DataTree.getMaxPrefixWithQuota: the deepest ancestor
// of p (or p itself) with a zookeeper_limits node, or "" when none (the
// root never has a quota).
func (t *Tree) maxQuotaPrefix(p string) string {
	if len(t.quotas) == 0 {
		return ""
	}
	for q := p; q != "/" && q != ""; {
		if _, ok := t.quotas[q]; ok {
			return q
		}
		i := strings.LastIndexByte(q, '/')
		if i <= 0 {
			break
		}
		q = q[:i]
	}
	return ""
}

// updateQuotaStat is DataTree.updateQuotaStat: it rewrites the stats node
// of prefix in place (no version or zxid change, no watch).
func (t *Tree) updateQuotaStat(prefix string, bytesDiff, countDiff int64) {
	n := t.nodes.get(quotaStatPath(prefix))
	if n == nil {
		return // ZooKeeper logs "Missing node for stat"
	}
	st := parseStats(n.getData())
	st["count"] = st.get("count") + countDiff
	st["bytes"] = st.get("bytes") + bytesDiff
	t.setRawData(quotaStatPath(prefix), n, st.bytes())
}

// updateQuotaForPath is DataTree.updateQuotaForPath: count the nodes and
// data bytes of the subtree at p and store them in its stats node.
func (t *Tree) updateQuotaForPath(p string) {
	var count, bytes int64
	var walk func(string)
	walk = func(q string) {
		n := t.nodes.get(q)
		if n == nil {
			return
		}
		count++
		bytes += int64(len(n.data))
		for c := range n.children {
			walk(childPath(q, c))
		}
	}
	walk(p)
	sp := quotaStatPath(p)
	n := t.nodes.get(sp)
	if n == nil {
		return
	}
	st := statsTrack{"count": count, "bytes": bytes}
	t.setRawData(sp, n, st.bytes())
}

// checkQuota is ZooKeeperServer.checkQuota with enforceQuota on: only hard
// limits (countHardLimit, byteHardLimit) refuse a write.
func (t *Tree) checkQuota(p string, bytesDiff, countDiff int64) bool {
	if !t.EnforceQuota {
		return true
	}
	prefix := t.maxQuotaPrefix(p)
	if prefix == "" {
		return true
	}
	ln := t.nodes.get(quotaLimitPath(prefix))
	if ln == nil {
		return true
	}
	limits := parseStats(ln.getData())
	checkCount := countDiff != 0 && (limits.get("count") > -1 || limits.get("countHardLimit") > -1)
	checkBytes := bytesDiff != 0 && (limits.get("bytes") > -1 || limits.get("byteHardLimit") > -1)
	if !checkCount && !checkBytes {
		return true
	}
	sn := t.nodes.get(quotaStatPath(prefix))
	if sn == nil {
		return true
	}
	cur := parseStats(sn.getData())
	if checkCount && limits.get("countHardLimit") > -1 && cur.get("count")+countDiff > limits.get("countHardLimit") {
		return false
	}
	if checkBytes && limits.get("byteHardLimit") > -1 && cur.get("bytes")+bytesDiff > limits.get("byteHardLimit") {
		return false
	}
	return true
}

// quotaSubject returns the quota'd path a zookeeper_limits or
// zookeeper_stats node at parent/name stands for.
func quotaSubject(parent, name string) (string, bool) {
	if name != limitNode && name != statNode {
		return "", false
	}
	if !strings.HasPrefix(parent, quotaPath+"/") {
		return "", false
	}
	return parent[len(quotaPath):], true
}
