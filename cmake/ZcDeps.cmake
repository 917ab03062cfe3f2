# Find every external dependency and say clearly which one is missing.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

function(zc_missing what pkg)
  message(FATAL_ERROR "zc: ${what} not found. Install the Debian package '${pkg}' (or run scripts/deps).")
endfunction()

find_package(OpenSSL 3.0 COMPONENTS Crypto)
if(NOT OpenSSL_FOUND)
  zc_missing("OpenSSL libcrypto" libssl-dev)
endif()

# Intel's ipsec-mb: AES-256-GCM and GMAC with VAES/AVX-512 (x86-64 only);
# without it every key uses OpenSSL, same bytes, slower (src/crypto/aead.c).
find_path(IPSEC_MB_INCLUDE_DIR intel-ipsec-mb.h)
find_library(IPSEC_MB_LIBRARY IPSec_MB)
add_library(zc_ipsec_mb INTERFACE)
if(IPSEC_MB_INCLUDE_DIR AND IPSEC_MB_LIBRARY)
  target_include_directories(zc_ipsec_mb INTERFACE ${IPSEC_MB_INCLUDE_DIR})
  target_link_libraries(zc_ipsec_mb INTERFACE ${IPSEC_MB_LIBRARY})
  target_compile_definitions(zc_ipsec_mb INTERFACE ZC_HAVE_IPSEC_MB)
  message(STATUS "zc: AES-GCM through ipsec-mb (${IPSEC_MB_LIBRARY})")
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  message(WARNING "zc: ipsec-mb not found (Debian: libipsec-mb-dev); AES-GCM uses OpenSSL only, "
                  "about 4x slower")
endif()

pkg_check_modules(URING IMPORTED_TARGET liburing)
if(NOT URING_FOUND)
  zc_missing("liburing" liburing-dev)
endif()

find_package(ZLIB)
if(NOT ZLIB_FOUND)
  zc_missing("zlib" zlib1g-dev)
endif()

find_package(PNG)
if(NOT PNG_FOUND)
  zc_missing("libpng" libpng-dev)
endif()

find_package(MPI COMPONENTS C)
if(NOT MPI_C_FOUND)
  zc_missing("MPI (Open MPI)" "libopenmpi-dev openmpi-bin")
endif()

find_path(NIFTI_INCLUDE_DIR nifti1_io.h PATH_SUFFIXES nifti)
find_library(NIFTI_IO_LIBRARY niftiio)
find_library(NIFTI_ZNZ_LIBRARY znz)
if(NOT NIFTI_INCLUDE_DIR OR NOT NIFTI_IO_LIBRARY OR NOT NIFTI_ZNZ_LIBRARY)
  zc_missing("libnifti (nifti1_io.h, libniftiio, libznz)" libnifti2-dev)
endif()
add_library(zc_nifti INTERFACE)
target_include_directories(zc_nifti INTERFACE ${NIFTI_INCLUDE_DIR})
target_link_libraries(zc_nifti INTERFACE ${NIFTI_IO_LIBRARY} ${NIFTI_ZNZ_LIBRARY} ZLIB::ZLIB m)

find_path(VIRTIO_RING_H linux/virtio_ring.h)
if(NOT VIRTIO_RING_H)
  zc_missing("linux/virtio_ring.h" linux-libc-dev)
endif()
