/* Symbol visibility for libkennel: the library is built with hidden visibility and exports only
 * what is marked here. Plain GCC/Clang attributes, so consumers need no generated header. */
#ifndef KENNEL_EXPORT_H
#define KENNEL_EXPORT_H

#if defined(KENNEL_C_STATIC)
#define KENNEL_EXPORT
#elif defined(__GNUC__)
#define KENNEL_EXPORT __attribute__((visibility("default")))
#else
#define KENNEL_EXPORT
#endif

#endif /* KENNEL_EXPORT_H */
