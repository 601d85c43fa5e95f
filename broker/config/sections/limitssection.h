// [limits]: the bounds on connections, frames, queues and the broker's memory. All numeric: the
// rows of the shared table (configschema.h), file and flag alike.
#pragma once

#include "configschema.h"

namespace Kennel::Config {

const QList<NumericKey> &limitsNumericKeys();
QStringList limitsKeys();

// max_frame_size or max_queue_bytes: tied together by limitsCrossCheck().
bool isSizeKey(const NumericKey &key);
// A connection's queue must hold at least one frame.
QStringList limitsCrossCheck(const BrokerConfig &config);

} // namespace Kennel::Config
