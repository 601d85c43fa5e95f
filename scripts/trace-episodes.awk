#!/usr/bin/awk -f
# Reads a kennel-nativebench --trace file and says how the slowest messages came: one by one, or
# together in episodes. An episode is a run of messages slower than THRESHOLD_US (default: the
# trace's own p99) whose send times lie within GAP_US (default 2000) of each other. For each
# episode: when it started, how long it lasted, how many messages and pairs it held, its worst
# latency.
#
# With STALLS=FILE (kennel-stallprobe --out, recorded during the same run), each episode is also
# matched against the machine's stalls: an episode is "witnessed" when the probe, which no ordinary
# process can delay, saw a CPU stop between the episode's first send and its last receipt. Slow
# messages in witnessed episodes were slow because the machine stopped, whatever forwarded them;
# the rest are what a broker's own work could explain.
#
# usage: awk [-v THRESHOLD_US=N] [-v GAP_US=N] [-v STALLS=FILE] [-v QUIET=1] -f scripts/trace-episodes.awk TRACE
# QUIET=1 prints only the summary lines.
BEGIN {
    nstall = 0
    if (STALLS != "") {
        while ((getline line < STALLS) > 0) {
            if (line ~ /^#/) continue
            split(line, f, " ")
            stallStart[nstall] = f[2] / 1000; stallLate[nstall] = f[3]; nstall++ # in us
        }
        close(STALLS)
    }
}
/^#/ {
    if (match($0, /window_start_ns=[0-9]+/)) windowStartUs = substr($0, RSTART + 16, RLENGTH - 16) / 1000
    next
}
{ send[n] = $1; lat[n] = $2; pair[n] = $3; n++; b = int($2); bucket[b]++; if (b > maxb) maxb = b }
END {
    if (n == 0) { print "no messages in the trace"; exit 1 }
    if (GAP_US == "") GAP_US = 2000
    if (THRESHOLD_US == "") {
        # p99 to the microsecond, from 1 us buckets (plain awk has no sort)
        acc = 0
        for (b = 0; b <= maxb; b++) { acc += bucket[b]; if (acc >= 0.99 * n) break }
        THRESHOLD_US = b + 1
    }
    slow = 0; episodes = 0; last = -1e18
    for (i = 0; i < n; i++) {
        if (lat[i] + 0 <= THRESHOLD_US + 0) continue
        slow++
        if (send[i] - last > GAP_US) {
            episodes++
            start[episodes] = send[i]; count[episodes] = 0; worst[episodes] = 0; lastRecv[episodes] = 0
            pairs[episodes] = 0
        }
        last = send[i]; stop[episodes] = send[i]; count[episodes]++
        if (lat[i] + 0 > worst[episodes]) worst[episodes] = lat[i] + 0
        if (send[i] + lat[i] > lastRecv[episodes]) lastRecv[episodes] = send[i] + lat[i]
        if (!((episodes, pair[i]) in seenpair)) { seenpair[episodes, pair[i]] = 1; pairs[episodes]++ }
        if (!(pair[i] in allpairs)) { allpairs[pair[i]] = 1; npairs++ }
    }
    canMatch = STALLS != "" && windowStartUs != ""
    for (e = 1; e <= episodes; e++) {
        witnessed[e] = 0
        if (!canMatch) continue
        from = windowStartUs + start[e]; to = windowStartUs + lastRecv[e]
        for (k = 0; k < nstall; k++)
            # the stall [start, start + lateness] overlaps the episode
            if (stallStart[k] <= to && stallStart[k] + stallLate[k] >= from) { witnessed[e] = 1; break }
    }
    big = 0; allp = 0; seen = 0
    for (e = 1; e <= episodes; e++) {
        big += count[e] >= 0.05 * slow ? count[e] : 0
        allp += pairs[e] == npairs ? count[e] : 0
        seen += witnessed[e] ? count[e] : 0
    }
    printf "%d messages, threshold %.1f us, %d slower, in %d episode(s) (gap %d us)\n", n, THRESHOLD_US, slow, episodes, GAP_US
    if (slow) printf "slow messages in episodes touching every pair: %.0f %%; in episodes holding >= 5 %% of them: %.0f %%\n", 100 * allp / slow, 100 * big / slow
    if (STALLS != "" && !canMatch) print "no window_start_ns in the trace: cannot match it against the stalls"
    if (canMatch && slow) printf "slow messages in episodes the stall probe witnessed: %.0f %% (%d stalls recorded)\n", 100 * seen / slow, nstall
    if (QUIET) exit 0
    printf "%12s %10s %8s %6s %10s %s\n", "start_ms", "length_ms", "msgs", "pairs", "worst_us", canMatch ? "witnessed" : ""
    for (e = 1; e <= episodes; e++)
        if (e <= 40 || count[e] >= 0.05 * slow)
            printf "%12.1f %10.2f %8d %6d %10.1f %s\n", start[e] / 1000, (stop[e] - start[e]) / 1000, count[e], pairs[e], worst[e], canMatch ? (witnessed[e] ? "yes" : "no") : ""
    if (episodes > 40) printf "(episodes after the 40th shown only when they hold >= 5 %% of the slow messages)\n"
}
