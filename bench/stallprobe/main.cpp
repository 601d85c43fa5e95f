// kennel-stallprobe: an independent witness of the machine stopping, for latency benchmarks.
//
// On a shared virtual machine a latency run can lose milliseconds at a time to things no process
// inside it can see: the host preempting a virtual CPU, a long interrupt. Such a stall delays
// every message in flight, whichever broker forwards them, and one or two in a 5 s run decide its
// p99. To tell those runs from a broker's own slowness, this probe runs beside the benchmark and
// records when the machine stopped: one thread pinned to each online CPU, at SCHED_FIFO when it
// may (so that no ordinary process, broker or generator, can delay it; only the host, interrupts
// and the kernel's own non-preemptible work can), sleeps to an absolute deadline every --period-us
// and records every wake-up later than --threshold-us. Each record is (cpu, start, lateness) on
// CLOCK_MONOTONIC, the clock kennel-nativebench stamps messages with, so a trace's slow episodes
// can be matched against the stalls (scripts/trace-episodes.awk, STALLS=FILE).
//
// A thread per CPU is the design here, not a speed-up: a stall is per virtual CPU. Records are
// preallocated (--max-records per CPU); the probe costs each CPU one short wake-up per period.
// Bounded by --duration, or ended by SIGINT/SIGTERM; then prints one `key=value` summary line and,
// with --out FILE, writes the records as `cpu start_ns lateness_us`.
//
// usage: kennel-stallprobe [--duration S] [--period-us N] [--threshold-us N] [--out FILE]
//                          [--max-records N] [--no-fifo]
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options
{
    double duration = 600;
    long periodUs = 1000;
    long thresholdUs = 500;
    long maxRecords = 100000;
    std::string outPath;
    bool fifo = true;
};
Options o;

std::atomic<bool> stopRequested{false};

void onSignal(int)
{
    stopRequested.store(true, std::memory_order_relaxed);
}

uint64_t toNs(const timespec &ts)
{
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

timespec fromNs(uint64_t ns)
{
    timespec ts;
    ts.tv_sec = time_t(ns / 1000000000ull);
    ts.tv_nsec = long(ns % 1000000000ull);
    return ts;
}

uint64_t nowNs()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return toNs(ts);
}

struct Stall
{
    uint64_t startNs; // the deadline the thread should have woken at
    uint64_t latenessNs;
};

struct CpuProbe
{
    int cpu = 0;
    bool pinned = false;
    bool fifo = false;
    uint64_t wakeups = 0;
    uint64_t dropped = 0; // stalls beyond --max-records: counted, not recorded
    uint64_t worstNs = 0;
    uint64_t totalLateNs = 0;
    std::vector<Stall> stalls;
};

void probeLoop(CpuProbe *probe, uint64_t endNs)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(probe->cpu, &set);
    probe->pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
    if (o.fifo) {
        sched_param param{};
        param.sched_priority = 1; // above every ordinary process, below the kernel's own threads
        probe->fifo = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
    }
    const uint64_t period = uint64_t(o.periodUs) * 1000;
    const uint64_t threshold = uint64_t(o.thresholdUs) * 1000;
    uint64_t deadline = nowNs() + period;
    while (!stopRequested.load(std::memory_order_relaxed) && deadline < endNs) {
        const timespec ts = fromNs(deadline);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
            if (stopRequested.load(std::memory_order_relaxed))
                return;
        }
        const uint64_t woke = nowNs();
        probe->wakeups++;
        const uint64_t late = woke > deadline ? woke - deadline : 0;
        if (late > threshold) {
            probe->totalLateNs += late;
            probe->worstNs = std::max(probe->worstNs, late);
            if (probe->stalls.size() < probe->stalls.capacity())
                probe->stalls.push_back({deadline, late});
            else
                probe->dropped++;
        }
        // The next deadline is on the grid after the wake-up: a stall is counted once, not once
        // for every period it swallowed.
        deadline += period * ((woke - deadline) / period + 1);
    }
}

[[noreturn]] void usage()
{
    std::fprintf(stderr,
                 "usage: kennel-stallprobe [options]\n"
                 "  --duration S        seconds to run, at most 3600 (default 600; SIGINT/SIGTERM end it sooner)\n"
                 "  --period-us N       wake-up period per CPU, 100..100000 (default 1000)\n"
                 "  --threshold-us N    a wake-up later than this is a stall, 50..1000000 (default 500)\n"
                 "  --out FILE          write every stall as 'cpu start_ns lateness_us' (CLOCK_MONOTONIC)\n"
                 "  --max-records N     stalls recorded per CPU, 1..10000000 (default 100000)\n"
                 "  --no-fifo           stay at normal priority (then other processes can delay the probe)\n");
    std::exit(2);
}

void parseOptions(int argc, char **argv)
{
    static const option lo[] = {{"duration", 1, nullptr, 'd'}, {"period-us", 1, nullptr, 'p'},
                                {"threshold-us", 1, nullptr, 't'}, {"out", 1, nullptr, 'o'},
                                {"max-records", 1, nullptr, 'm'}, {"no-fifo", 0, nullptr, 'F'},
                                {"help", 0, nullptr, '?'}, {nullptr, 0, nullptr, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, nullptr)) != -1) {
        switch (ch) {
        case 'd': o.duration = std::atof(optarg); break;
        case 'p': o.periodUs = std::atol(optarg); break;
        case 't': o.thresholdUs = std::atol(optarg); break;
        case 'o': o.outPath = optarg; break;
        case 'm': o.maxRecords = std::atol(optarg); break;
        case 'F': o.fifo = false; break;
        default: usage();
        }
    }
    if (optind < argc || o.duration <= 0 || o.duration > 3600 || o.periodUs < 100 || o.periodUs > 100000
        || o.thresholdUs < 50 || o.thresholdUs > 1000000 || o.maxRecords < 1 || o.maxRecords > 10000000)
        usage();
}

} // namespace

int main(int argc, char **argv)
{
    parseOptions(argc, argv);
    struct sigaction sa{};
    sa.sa_handler = onSignal; // no SA_RESTART: a sleeping thread's clock_nanosleep returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1 || ncpu > 4096) {
        std::fprintf(stderr, "kennel-stallprobe: cannot tell how many CPUs are online\n");
        return 2;
    }
    std::vector<CpuProbe> probes(static_cast<size_t>(ncpu));
    for (long i = 0; i < ncpu; i++) {
        probes[size_t(i)].cpu = int(i);
        probes[size_t(i)].stalls.reserve(size_t(o.maxRecords));
    }
    const uint64_t startNs = nowNs();
    const uint64_t endNs = startNs + uint64_t(o.duration * 1e9);
    std::vector<std::thread> threads;
    for (CpuProbe &probe : probes)
        threads.emplace_back(probeLoop, &probe, endNs);
    // Signals go to this thread's sleep; the probes see the flag within one period.
    while (!stopRequested.load(std::memory_order_relaxed) && nowNs() < endNs) {
        const timespec ts = fromNs(std::min<uint64_t>(endNs, nowNs() + 100000000ull));
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
    stopRequested.store(true, std::memory_order_relaxed);
    for (std::thread &t : threads)
        t.join();
    const uint64_t elapsedNs = nowNs() - startNs;

    uint64_t stalls = 0, dropped = 0, worst = 0, total = 0, wakeups = 0;
    bool allPinned = true, allFifo = true;
    for (const CpuProbe &p : probes) {
        stalls += p.stalls.size() + p.dropped;
        dropped += p.dropped;
        worst = std::max(worst, p.worstNs);
        total += p.totalLateNs;
        wakeups += p.wakeups;
        allPinned = allPinned && p.pinned;
        allFifo = allFifo && p.fifo;
    }
    bool written = true;
    if (!o.outPath.empty()) {
        FILE *f = std::fopen(o.outPath.c_str(), "w");
        if (f) {
            std::fprintf(f, "# kennel-stallprobe: cpu start_ns lateness_us; period %ld us, threshold %ld us\n", o.periodUs,
                         o.thresholdUs);
            for (const CpuProbe &p : probes)
                for (const Stall &s : p.stalls)
                    std::fprintf(f, "%d %" PRIu64 " %.1f\n", p.cpu, s.startNs, double(s.latenessNs) / 1e3);
            written = std::fclose(f) == 0;
        } else {
            written = false;
        }
        if (!written)
            std::perror(o.outPath.c_str());
    }
    std::printf("probe_cpus=%ld probe_s=%.2f probe_wakeups=%" PRIu64 " probe_pinned=%d probe_fifo=%d probe_stalls=%" PRIu64
                " probe_stall_ms=%.1f probe_worst_us=%.1f probe_not_recorded=%" PRIu64 "\n",
                ncpu, double(elapsedNs) / 1e9, wakeups, allPinned ? 1 : 0, allFifo ? 1 : 0, stalls, double(total) / 1e6,
                double(worst) / 1e3, dropped);
    return written ? 0 : 1;
}
