#include "errnotext.h"

namespace Kennel {

QString errnoText(int error)
{
    return qt_error_string(error);
}

} // namespace Kennel
