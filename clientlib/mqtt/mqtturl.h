// The MQTT URL forms Kennel accepts, the same for the broker's bridge and the monitor's fleet
// view: mqtt://HOST:PORT (default port 1883) and mqtts://HOST:PORT (TLS, default 8883). Nothing
// else in the URL: credentials are never written where `ps` or a history file would show them.
#pragma once

#include <QString>

namespace Kennel {

// The parts of an MQTT URL; ok false with `error` set when it is not one.
struct MqttUrl
{
    bool ok = false;
    bool tls = false;
    QString host;
    int port = 0;
    QString error;
};

// `credentialsHint` says, in the error for a URL with user info, where credentials go instead
// (e.g. "[bridge] username and password_file").
MqttUrl parseMqttUrl(const QString &url, const QString &credentialsHint);

} // namespace Kennel
