#include "servicegraph.h"

#include <QHash>

#include <functional>

namespace Kennel {

namespace {
QHash<QString, int> indexByName(const QList<ServiceSettings> &services)
{
    QHash<QString, int> index;
    for (int i = 0; i < services.size(); ++i)
        index.insert(services.at(i).name, i);
    return index;
}
} // namespace

QStringList ServiceGraph::check(const QList<ServiceSettings> &services)
{
    QStringList errors;
    const QHash<QString, int> index = indexByName(services);
    QHash<QString, QString> registeredBy;
    for (const ServiceSettings &service : services) {
        const QString prefix = QStringLiteral("[service.") + service.name + QStringLiteral("] ");
        for (const QString &name : service.after) {
            if (name == service.name)
                errors.append(prefix + QStringLiteral("after: names the service itself"));
            else if (!index.contains(name))
                errors.append(prefix + QStringLiteral("after: unknown service \"") + name + QStringLiteral("\""));
        }
        const QString registered = service.registeredName();
        const auto other = registeredBy.constFind(registered);
        // The same service declared twice is an error of its own (the loader's), not a clash.
        if (other != registeredBy.constEnd() && *other != service.name)
            errors.append(prefix + QStringLiteral("name: \"") + registered + QStringLiteral("\" is also the name of [service.")
                          + *other + QStringLiteral("]; each service registers a name of its own"));
        else
            registeredBy.insert(registered, service.name);
    }
    // Cycles: a depth-first walk; a service met again while still on the path closes one.
    enum Mark : quint8 { Unseen, OnPath, Done };
    QList<Mark> marks(services.size(), Unseen);
    QList<int> path;
    std::function<void(int)> visit = [&](int i) {
        marks[i] = OnPath;
        path.append(i);
        for (const QString &name : services.at(i).after) {
            const int next = index.value(name, -1);
            if (next < 0 || next == i)
                continue;
            if (marks[next] == OnPath) {
                QStringList names;
                for (qsizetype k = path.indexOf(next); k < path.size(); ++k)
                    names.append(services.at(path.at(k)).name);
                names.append(services.at(next).name);
                errors.append(QStringLiteral("[service.") + services.at(next).name
                              + QStringLiteral("] after: a dependency cycle: ") + names.join(QStringLiteral(" -> ")));
            } else if (marks[next] == Unseen) {
                visit(next);
            }
        }
        path.removeLast();
        marks[i] = Done;
    };
    for (int i = 0; i < services.size(); ++i) {
        if (marks[i] == Unseen)
            visit(i);
    }
    return errors;
}

QList<int> ServiceGraph::startOrder(const QList<ServiceSettings> &services)
{
    const QHash<QString, int> index = indexByName(services);
    QList<int> order;
    QList<bool> placed(services.size(), false);
    // Repeatedly the first service (in config order) whose dependencies are all placed: config
    // order wherever the graph leaves a choice. Quadratic, for at most a few hundred services.
    bool progress = true;
    while (progress && order.size() < services.size()) {
        progress = false;
        for (int i = 0; i < services.size(); ++i) {
            if (placed[i])
                continue;
            bool ready = true;
            for (const QString &name : services.at(i).after) {
                const int dependency = index.value(name, -1);
                if (dependency >= 0 && dependency != i && !placed[dependency]) {
                    ready = false;
                    break;
                }
            }
            if (!ready)
                continue;
            placed[i] = true;
            order.append(i);
            progress = true;
            break;
        }
    }
    for (int i = 0; i < services.size(); ++i) {
        if (!placed[i])
            order.append(i);
    }
    return order;
}

} // namespace Kennel
