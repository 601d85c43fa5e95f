// ServiceGraph without processes: the start order `after =` gives (dependencies first, file order
// wherever the graph leaves a choice; stop order is its reverse) and every error check() finds.
#include "servicegraph.h"

#include <QTest>

using namespace Kennel;

namespace {
QStringList L(std::initializer_list<const char *> items)
{
    QStringList list;
    for (const char *item : items)
        list.append(QString::fromLatin1(item));
    return list;
}

// "a:b,c" is service a after b and c; "a=x" registers x.
QList<ServiceSettings> services(const QStringList &specs)
{
    QList<ServiceSettings> list;
    for (const QString &spec : specs) {
        ServiceSettings s;
        QString rest = spec;
        const qsizetype colon = rest.indexOf(QLatin1Char(':'));
        if (colon >= 0) {
            s.after = rest.mid(colon + 1).split(QLatin1Char(','), Qt::SkipEmptyParts);
            rest = rest.left(colon);
        }
        const qsizetype equals = rest.indexOf(QLatin1Char('='));
        if (equals >= 0) {
            s.clientName = rest.mid(equals + 1);
            rest = rest.left(equals);
        }
        s.name = rest;
        list.append(s);
    }
    return list;
}

QStringList names(const QList<ServiceSettings> &list, const QList<int> &order)
{
    QStringList out;
    for (int i : order)
        out.append(list.at(i).name);
    return out;
}
} // namespace

class tst_ServiceGraph : public QObject
{
    Q_OBJECT

private slots:
    void startOrder_data();
    void startOrder();
    void check_data();
    void check();
};

void tst_ServiceGraph::startOrder_data()
{
    QTest::addColumn<QStringList>("specs");
    QTest::addColumn<QStringList>("expected");
    QTest::newRow("none: file order") << L({"c", "a", "b"}) << L({"c", "a", "b"});
    QTest::newRow("dependent first in file") << L({"b:a", "a"}) << L({"a", "b"});
    QTest::newRow("chain backwards") << L({"c:b", "b:a", "a"}) << L({"a", "b", "c"});
    QTest::newRow("diamond") << L({"d:b,c", "c:a", "b:a", "a"}) << L({"a", "c", "b", "d"});
    QTest::newRow("independent keeps its place") << L({"x", "b:a", "y", "a"})
                                                 << L({"x", "y", "a", "b"});
    QTest::newRow("cycle last, file order") << L({"a:b", "b:a", "c"}) << L({"c", "a", "b"});
    QTest::newRow("unknown ignored") << L({"a:nosuch", "b"}) << L({"a", "b"});
}

void tst_ServiceGraph::startOrder()
{
    QFETCH(QStringList, specs);
    QFETCH(QStringList, expected);
    const QList<ServiceSettings> list = services(specs);
    QCOMPARE(names(list, ServiceGraph::startOrder(list)), expected);
}

void tst_ServiceGraph::check_data()
{
    QTest::addColumn<QStringList>("specs");
    QTest::addColumn<QStringList>("errors");
    QTest::newRow("sound") << L({"d:b,c", "c:a", "b:a", "a"}) << QStringList{};
    QTest::newRow("two-cycle") << L({"a:b", "b:a"})
                               << L({"[service.a] after: a dependency cycle: a -> b -> a"});
    QTest::newRow("cycle behind a tail") << L({"t:a", "a:b", "b:c", "c:a"})
                                         << L({"[service.a] after: a dependency cycle: a -> b -> c -> a"});
    QTest::newRow("self") << L({"a:a"}) << L({"[service.a] after: names the service itself"});
    QTest::newRow("unknown") << L({"a:b,zz", "b"}) << L({"[service.a] after: unknown service \"zz\""});
    QTest::newRow("name clash") << L({"a=x", "b", "c=x"})
                                << L({"[service.c] name: \"x\" is also the name of [service.a]; each service "
                                               "registers a name of its own"});
    QTest::newRow("name equals another's default") << L({"a", "b=a"})
                                                   << L({"[service.b] name: \"a\" is also the name of "
                                                                  "[service.a]; each service registers a name of its own"});
}

void tst_ServiceGraph::check()
{
    QFETCH(QStringList, specs);
    QFETCH(QStringList, errors);
    QCOMPARE(ServiceGraph::check(services(specs)), errors);
}

QTEST_MAIN(tst_ServiceGraph)
#include "tst_servicegraph.moc"
