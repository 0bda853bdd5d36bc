package cleanup

import (
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// portmapRules are the hostPort rules the CNI portmap plugin made for some
// sandboxes in the nat table: rules, per chain, by their 1-based position, and
// the per-sandbox chains (CNI-DN-...) they jump to. The plugin tags each rule
// with a comment naming the network and the sandbox ID.
type portmapRules struct {
	rules  map[string][]int
	chains []string
}

// iptables runs iptables in the network namespace at nsPath ("" for ours);
// it waits for the xtables lock.
func iptables(nsPath string, args ...string) (string, error) {
	args = append([]string{"-w", "5", "-t", "nat"}, args...)
	cmd := exec.Command("iptables", args...)
	if nsPath != "" {
		cmd = exec.Command("nsenter", append([]string{"--net=" + nsPath, "--", "iptables"}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// findPortmap lists the portmap rules of the sandboxes ids in the nat table.
// Without iptables there are none (the plugin needs it too).
func findPortmap(nsPath string, ids map[string]bool) (portmapRules, error) {
	p := portmapRules{rules: map[string][]int{}}
	if len(ids) == 0 {
		return p, nil
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return p, nil
	}
	out, err := iptables(nsPath, "-S")
	if err != nil {
		return p, err
	}
	return parsePortmap(out, ids), nil
}

// parsePortmap reads `iptables -t nat -S`.
func parsePortmap(out string, ids map[string]bool) portmapRules {
	p := portmapRules{rules: map[string][]int{}}
	index := map[string]int{}
	chains := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		chain := f[1]
		index[chain]++
		if !ownsRule(line, ids) {
			continue
		}
		p.rules[chain] = append(p.rules[chain], index[chain])
		for i := 2; i+1 < len(f); i++ {
			if f[i] == "-j" && strings.HasPrefix(f[i+1], "CNI-DN-") {
				chains[f[i+1]] = true
			}
		}
	}
	p.chains = sortedKeys(chains)
	return p
}

// ownsRule: the rule's comment is the portmap plugin's for one of ids,
// `dnat name: "skiff" id: "ID"` (quoted by iptables -S).
func ownsRule(line string, ids map[string]bool) bool {
	i := strings.Index(line, `id: \"`)
	if i < 0 {
		return false
	}
	rest := line[i+len(`id: \"`):]
	j := strings.Index(rest, `\"`)
	return j > 0 && ids[rest[:j]]
}

// remove deletes the rules (the last of each chain first, so positions hold)
// and then the chains.
func (p portmapRules) remove(nsPath string, report func(string, ...any)) error {
	var errs []error
	n := 0
	for _, chain := range sortedKeys(p.rules) {
		idx := append([]int(nil), p.rules[chain]...)
		sort.Sort(sort.Reverse(sort.IntSlice(idx)))
		for _, i := range idx {
			if _, err := iptables(nsPath, "-D", chain, strconv.Itoa(i)); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	for _, chain := range p.chains {
		_, err := iptables(nsPath, "-F", chain)
		if err == nil {
			_, err = iptables(nsPath, "-X", chain)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		report("deleted iptables chain nat %s (a pod's hostPort mappings)", chain)
	}
	if n > 0 {
		report("deleted %d hostPort rule(s) of the CNI portmap plugin", n)
	}
	return errors.Join(errs...)
}
