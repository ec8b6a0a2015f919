#ifndef FEDQ_CBLAS_SHIM_H
#define FEDQ_CBLAS_SHIM_H
#include <cblas.h>
#endif
