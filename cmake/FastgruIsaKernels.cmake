# fastgru_add_isa_kernels(<isa> FLAGS <gnu flags...> MSVC_FLAGS <msvc flags...> SOURCES <files...>)
#
# Each ISA's kernels form an OBJECT library of their own, so its -m flags reach those files
# and nothing else: a wheel built here must still run on any x86-64 (the baseline code never
# contains an instruction the dispatcher has not checked for). FLAGS are for GCC and Clang
# (Apple's too); MSVC_FLAGS (/arch:...) for cl and clang-cl: cl accepts the intrinsics without
# them but then compiles the code around them as SSE2, and clang-cl refuses the intrinsics.
function(fastgru_add_isa_kernels isa)
  cmake_parse_arguments(ARG "" "" "FLAGS;MSVC_FLAGS;SOURCES" ${ARGN})
  set(lib fastgru_kernels_${isa})
  add_library(${lib} OBJECT ${ARG_SOURCES})
  target_include_directories(${lib} PRIVATE ${FASTGRU_CPP_DIR}/include ${FASTGRU_CPP_DIR}/src)
  if(MSVC)
    target_compile_options(${lib} PRIVATE ${ARG_MSVC_FLAGS})
  else()
    # -fno-lto: link-time optimisation could merge ISA code into baseline callers.
    target_compile_options(${lib} PRIVATE ${ARG_FLAGS} -fno-lto)
    # GCC 12 reports its own _mm512_undefined_* (inside masked loads, min/max, roundscale) as
    # uninitialised once enough of them are inlined into one function.
    target_compile_options(${lib} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized -Wno-uninitialized>)
  endif()
  fastgru_set_warnings(${lib})
  target_sources(fastgru_core PRIVATE $<TARGET_OBJECTS:${lib}>)
  string(TOUPPER ${isa} ISA)
  target_compile_definitions(fastgru_core PRIVATE FASTGRU_HAVE_${ISA}=1)
endfunction()
