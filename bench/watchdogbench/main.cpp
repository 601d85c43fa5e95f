// kennel-watchdog-bench: what the watchdog engine costs with N clients feeding on schedule
// (10,000 clients feeding every second must cost the broker little CPU).
//
// Two runs in one process, one event loop each, same harness: a 10 ms QTimer feeds a slice of the
// clients so that each is fed once per feed interval, spread evenly. The first run calls
// DeadlineEngine::feed() on N watched entries; the second (the baseline) runs the same timer and loop
// without a watchdog. The difference in process CPU time (getrusage, user + sys) is the engine's
// cost. Figures go to docs/BENCHMARKS.md; the exit code is 1 if any client went late or expired.
#include "deadlineengine.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QEventLoop>
#include <QTimer>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

using namespace Kennel;
using namespace std::chrono_literals;
using Clock = DeadlineEngine::Clock;

namespace {

struct Options
{
    int clients = 10000;
    int feedIntervalMs = 1000;
    int intervalMs = 3000;
    int misses = 3;
    int durationS = 10;
};

struct RunResult
{
    double cpuSeconds = 0;
    double wallSeconds = 0;
    quint64 feeds = 0;
    int late = 0;
    int expired = 0;
    DeadlineEngine::Stats stats;
    Clock::duration worstTickGap{0};
};

double cpuSeconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval &tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double ms(Clock::duration d)
{
    return std::chrono::duration<double, std::milli>(d).count();
}

RunResult run(const Options &options, bool feeding)
{
    constexpr auto Tick = 10ms;
    const int ticksPerCycle = std::max(1, options.feedIntervalMs / int(Tick.count()));
    const int slice = (options.clients + ticksPerCycle - 1) / ticksPerCycle;

    RunResult result;
    DeadlineEngine watchdog;
    if (feeding) {
        watchdog.reserve(size_t(options.clients));
        WatchTerms terms;
        terms.interval = std::chrono::milliseconds(options.intervalMs);
        terms.allowedMisses = options.misses;
        for (int key = 0; key < options.clients; ++key)
            watchdog.watch(quint64(key), terms);
        QObject::connect(&watchdog, &DeadlineEngine::stateChanged, &watchdog, [&](quint64, WatchState, WatchState to) {
            if (to == WatchState::Late)
                ++result.late;
            else if (to == WatchState::Expired)
                ++result.expired;
        });
    }

    volatile quint64 sink = 0; // the baseline's stand-in for feed(): the loop must not vanish
    int tick = 0;
    Clock::time_point lastTick = Clock::now();
    QTimer feeder;
    feeder.setTimerType(Qt::PreciseTimer);
    QObject::connect(&feeder, &QTimer::timeout, &feeder, [&] {
        const Clock::time_point t = Clock::now();
        result.worstTickGap = std::max(result.worstTickGap, t - lastTick - Tick);
        lastTick = t;
        const int first = (tick++ % ticksPerCycle) * slice;
        const int last = std::min(first + slice, options.clients);
        for (int key = first; key < last; ++key) {
            if (feeding)
                watchdog.feed(quint64(key));
            else
                sink = sink + quint64(key);
        }
        result.feeds += quint64(std::max(0, last - first));
    });

    QEventLoop loop;
    // Precise: a coarse timer of this length may end the run up to 5 % early.
    QTimer::singleShot(std::chrono::seconds(options.durationS), Qt::PreciseTimer, &loop, &QEventLoop::quit);
    const double cpuBefore = cpuSeconds();
    const Clock::time_point wallBefore = Clock::now();
    lastTick = wallBefore;
    feeder.start(Tick);
    loop.exec();
    feeder.stop();
    result.cpuSeconds = cpuSeconds() - cpuBefore;
    result.wallSeconds = std::chrono::duration<double>(Clock::now() - wallBefore).count();
    result.stats = watchdog.stats();
    if (feeding && watchdog.size() != size_t(options.clients))
        std::fprintf(stderr, "only %zu of %d entries still watched\n", watchdog.size(), options.clients);
    return result;
}

// feed() alone, in a tight loop over every entry: the per-call cost without the harness around it.
double nanosecondsPerFeed(const Options &options)
{
    DeadlineEngine watchdog;
    watchdog.reserve(size_t(options.clients));
    WatchTerms terms;
    terms.interval = std::chrono::milliseconds(options.intervalMs);
    terms.allowedMisses = options.misses;
    for (int key = 0; key < options.clients; ++key)
        watchdog.watch(quint64(key), terms);
    constexpr int Rounds = 100;
    const Clock::time_point start = Clock::now();
    for (int round = 0; round < Rounds; ++round)
        for (int key = 0; key < options.clients; ++key)
            watchdog.feed(quint64(key));
    const Clock::duration spent = Clock::now() - start;
    return std::chrono::duration<double, std::nano>(spent).count() / (double(Rounds) * options.clients);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("kennel-watchdog-bench"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("CPU cost of the watchdog engine with N clients feeding on schedule."));
    parser.addHelpOption();
    const QCommandLineOption clientsOption(QStringLiteral("clients"), QStringLiteral("Watched clients (default 10000)."),
                                           QStringLiteral("N"), QStringLiteral("10000"));
    const QCommandLineOption feedOption(QStringLiteral("feed-interval-ms"),
                                        QStringLiteral("Each client feeds this often (default 1000)."),
                                        QStringLiteral("ms"), QStringLiteral("1000"));
    const QCommandLineOption intervalOption(QStringLiteral("interval-ms"), QStringLiteral("Watchdog interval (default 3000)."),
                                            QStringLiteral("ms"), QStringLiteral("3000"));
    const QCommandLineOption missesOption(QStringLiteral("misses"), QStringLiteral("Allowed misses (default 3)."),
                                          QStringLiteral("n"), QStringLiteral("3"));
    const QCommandLineOption durationOption(QStringLiteral("duration-s"), QStringLiteral("Length of each run (default 10)."),
                                            QStringLiteral("s"), QStringLiteral("10"));
    parser.addOptions({clientsOption, feedOption, intervalOption, missesOption, durationOption});
    parser.process(app);

    Options options;
    const auto number = [&parser](const QCommandLineOption &option, int min, int max, int *out) {
        bool ok = false;
        const int value = parser.value(option).toInt(&ok);
        if (!ok || value < min || value > max) {
            std::fprintf(stderr, "--%s must be a number in [%d, %d]\n", qPrintable(option.names().constFirst()), min, max);
            return false;
        }
        *out = value;
        return true;
    };
    if (!number(clientsOption, 1, 10000000, &options.clients) || !number(feedOption, 10, 3600000, &options.feedIntervalMs)
        || !number(intervalOption, 1, 3600000, &options.intervalMs) || !number(missesOption, 1, 1000, &options.misses)
        || !number(durationOption, 1, 3600, &options.durationS))
        return 2;

    std::printf("kennel-watchdog-bench: %d clients, each fed every %d ms (a 10 ms timer feeding a slice), "
                "terms %d ms x %d, %d s per run\n",
                options.clients, options.feedIntervalMs, options.intervalMs, options.misses, options.durationS);
    std::fflush(stdout);

    const RunResult withFeed = run(options, true);
    const RunResult baseline = run(options, false);

    const auto percent = [](double cpu, double wall) { return wall > 0 ? 100.0 * cpu / wall : 0.0; };
    std::printf("with feed():  cpu %.3f s over %.2f s = %.2f %% of one core (%llu feeds)\n", withFeed.cpuSeconds,
                withFeed.wallSeconds, percent(withFeed.cpuSeconds, withFeed.wallSeconds),
                static_cast<unsigned long long>(withFeed.feeds));
    std::printf("baseline:     cpu %.3f s over %.2f s = %.2f %% of one core (same timer, no watchdog)\n",
                baseline.cpuSeconds, baseline.wallSeconds, percent(baseline.cpuSeconds, baseline.wallSeconds));
    const double cost = withFeed.cpuSeconds - baseline.cpuSeconds;
    std::printf("watchdog:     %.3f s cpu = %.2f %% of one core, %.0f ns per feed (all engine work included)\n", cost,
                percent(cost, withFeed.wallSeconds), withFeed.feeds ? 1e9 * cost / double(withFeed.feeds) : 0.0);
    std::printf("late: %d, expired: %d\n", withFeed.late, withFeed.expired);
    std::printf("engine timer: %llu shots (%.1f/s), %llu heap items processed, max lateness %.3f ms\n",
                static_cast<unsigned long long>(withFeed.stats.timerShots),
                double(withFeed.stats.timerShots) / withFeed.wallSeconds,
                static_cast<unsigned long long>(withFeed.stats.itemsProcessed), ms(withFeed.stats.maxTimerLateness));
    std::printf("feed() alone: %.1f ns per call (tight loop over %d entries)\n", nanosecondsPerFeed(options),
                options.clients);
    std::printf("feed timer:   worst tick %.3f ms late (with feed()), %.3f ms (baseline)\n", ms(withFeed.worstTickGap),
                ms(baseline.worstTickGap));
    return withFeed.late == 0 && withFeed.expired == 0 ? 0 : 1;
}
