// One run of ConfigLoader through its layers, as the sections see it. Internal to ConfigLoader.
#pragma once

#include "brokerconfig.h"

#include <QStringList>

namespace Kennel::Config {

// sizesSuspect / watchdogSuspect / monitorSuspect: a key of that kind failed to parse, so a
// cross-key check would compare against a value the operator did not ask for and only confuse.
struct Pass
{
    BrokerConfig config;
    QStringList errors;
    bool sizesSuspect = false;
    bool watchdogSuspect = false;
    bool monitorSuspect = false;
};

} // namespace Kennel::Config
