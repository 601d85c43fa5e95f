// [broker]: where clients connect. Also the listen-list grammar that [monitor] listen and the
// --listen/--monitor-listen flags share; one address is parseListenAddress() (configloader.h).
#pragma once

#include "configpass.h"
#include "configschema.h"

class QCommandLineParser;

namespace Kennel::Config {

QStringList brokerKeys();

// Parses every item; a layer's list is taken whole or not at all, so that a half-valid list
// never leaves the broker listening on only some of the places the operator named.
bool parseListenList(const QStringList &items, const QString &label, QList<ListenAddress> *out,
                     QStringList *errors);

void applyBroker(const QSettings &settings, Pass &pass);
void applyBrokerFlags(const QCommandLineParser &parser, Pass &pass); // --listen
void validateBroker(const BrokerConfig &config, QStringList *errors);

} // namespace Kennel::Config
