package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// ms formats a duration in milliseconds with three decimals.
func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

// WriteTable writes the results as an aligned terminal table. When any
// result is open loop it adds the offered rate and a note column that
// flags the points behind it (see Result.Behind), explained under the
// table.
func WriteTable(w io.Writer, results []Result) error {
	open, behind := false, false
	for _, r := range results {
		open = open || r.Rate > 0
		behind = behind || r.Behind()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	offered, note := "", ""
	if open {
		offered, note = "offered ops/s\t", "note\t"
	}
	fmt.Fprintln(tw, "target\tworkload\treads\t"+offered+"ops/s\tops\terrors\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\tclient cores\tcpu-s/1M ops\t"+note)
	for _, r := range results {
		offered, note = "", ""
		if open {
			offered, note = "—\t", "\t"
			if r.Rate > 0 {
				offered = fmt.Sprintf("%.0f\t", r.Rate)
			}
			if r.Behind() {
				note = fmt.Sprintf("BEHIND: %.0f%% of offered\t", 100*r.Throughput/r.Rate)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s%.0f\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%.2f\t%.2f\t%s\n",
			r.Target, r.Workload, pct(r.ReadRatio), offered, r.Throughput, r.Ops, r.Errors,
			ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.P999), ms(r.Latency.Max),
			r.ClientCores, r.CPUPerMillionOps, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if open {
		fmt.Fprintln(w, "\nOpen loop: latency runs from each request's intended send time, so requests that waited in\n"+
			"the generator (the -inflight window full) count the wait.")
	}
	if behind {
		_, err := fmt.Fprintf(w, "BEHIND: under %.0f%% of the offered rate answered; the server or the generator could not\n"+
			"keep up, and requests queued in the generator or were never sent.\n", 100*behindShare)
		return err
	}
	return nil
}

// WriteJSON writes the results as an indented JSON array (durations in
// nanoseconds, as the field names say).
func WriteJSON(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

// csvHeader is the first row WriteCSV writes.
var csvHeader = []string{
	"target", "workload", "read_ratio", "sessions", "in_flight", "keys", "value_size",
	"elapsed_s", "ops", "errors", "ops_per_sec",
	"p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms",
	"client_cpu_s", "client_cores", "client_cpu_s_per_1m_ops",
	"offered_ops_per_sec", // added with open loop; 0 for closed loop
}

// WriteCSV writes the results as CSV with a header row (latencies in
// milliseconds). Columns are only ever added at the end.
func WriteCSV(w io.Writer, results []Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range results {
		l := r.Latency
		row := []string{
			r.Target, r.Workload, f(r.ReadRatio), strconv.Itoa(r.Sessions), strconv.Itoa(r.InFlight),
			strconv.Itoa(r.Keys), strconv.Itoa(r.ValueSize),
			f(r.Elapsed.Seconds()), strconv.FormatInt(r.Ops, 10), strconv.FormatInt(r.Errors, 10),
			strconv.FormatFloat(r.Throughput, 'f', 1, 64),
			ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max), ms(l.Mean),
			strconv.FormatFloat(r.ClientCPU.Seconds(), 'f', 6, 64), strconv.FormatFloat(r.ClientCores, 'f', 3, 64),
			strconv.FormatFloat(r.CPUPerMillionOps, 'f', 3, 64),
			f(r.Rate),
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
