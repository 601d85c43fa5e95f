// kennel-microbench: the codec and routing-table micro-benchmarks (Google Benchmark).
//
// Its own main() rather than benchmark_main: the broker's EventPoller needs a QCoreApplication
// (its socket notifier needs an event dispatcher), even though no event loop ever runs here.
// Usual Google Benchmark options apply, e.g. --benchmark_filter=Route --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <QCoreApplication>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
