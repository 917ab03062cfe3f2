/* libzc.so is every part's static library linked whole (CMakeLists.txt);
 * CMake wants a translation unit of the shared library's own, and this
 * comment is it. */
