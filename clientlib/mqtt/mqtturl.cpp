#include "mqtturl.h"

#include <QUrl>

namespace Kennel {

MqttUrl parseMqttUrl(const QString &text, const QString &credentialsHint)
{
    MqttUrl out;
    const QUrl url(text, QUrl::StrictMode);
    const QString scheme = url.scheme();
    if (!url.isValid() || (scheme != QLatin1String("mqtt") && scheme != QLatin1String("mqtts"))) {
        out.error = QStringLiteral("'%1' is not mqtt://HOST:PORT or mqtts://HOST:PORT").arg(text);
        return out;
    }
    if (url.host().isEmpty() || !url.userInfo().isEmpty() || (!url.path().isEmpty() && url.path() != QLatin1String("/"))
        || url.hasQuery() || url.hasFragment()) {
        out.error = QStringLiteral("'%1': an MQTT URL is scheme://HOST:PORT only (credentials go in %2)").arg(text, credentialsHint);
        return out;
    }
    out.tls = scheme == QLatin1String("mqtts");
    out.host = url.host();
    out.port = url.port(out.tls ? 8883 : 1883);
    out.ok = true;
    return out;
}

} // namespace Kennel
