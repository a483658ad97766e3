// Chooses the kernel table of the active instruction set (kernels/isa.h, kernels/isa/kernel_table.h).
#include <stdexcept>
#include <string>

#include "kernels/isa/kernel_table.h"

namespace mad::kernels {

// Each set's table, defined by kernels/isa/table.cpp compiled for that set.
namespace isa_generic { const KernelTable& isa_kernel_table(); }
#if !defined(MAD_PORTABLE)
namespace isa_avx2 { const KernelTable& isa_kernel_table(); }
namespace isa_avx512 { const KernelTable& isa_kernel_table(); }
namespace isa_avx512bf16 { const KernelTable& isa_kernel_table(); }
#endif

const KernelTable& kernel_table(Isa isa) {
  switch (isa) {
    case Isa::generic: return isa_generic::isa_kernel_table();
#if !defined(MAD_PORTABLE)
    case Isa::avx2: return isa_avx2::isa_kernel_table();
    case Isa::avx512: return isa_avx512::isa_kernel_table();
    case Isa::avx512bf16: return isa_avx512bf16::isa_kernel_table();
#else
    default: break;
#endif
  }
  throw std::invalid_argument("kernel_table: this build has no kernels for " + std::string(isa_name(isa)) +
                              " (a MAD_PORTABLE build has generic only)");
}

const KernelTable& active_kernels() {
  static const KernelTable& table = kernel_table(active_isa());
  return table;
}

}  // namespace mad::kernels
