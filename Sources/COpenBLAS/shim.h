// OpenBLAS CBLAS interface (Debian: libopenblas-dev, pkg-config openblas).
#include <cblas.h>
// Declared by OpenBLAS but not in every cblas.h: thread control used by the benchmark and tensor core.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
