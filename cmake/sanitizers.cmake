if(PARLEY_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PARLEY_FUZZ needs clang (configure with -DCMAKE_CXX_COMPILER=clang++-14)")
  endif()
  set(PARLEY_SANITIZE ON)
  # Only the modules the fuzz targets exercise are instrumented for coverage (parley_module
  # adds -fsanitize=fuzzer-no-link to them); the SIMD kernels, the model and the HTTP server
  # would cost minutes of CI compile time for coverage no fuzz target uses. Only fuzz targets
  # link the libFuzzer main.
  set(PARLEY_FUZZ_MODULES base gguf chat tokenizer api kv)
endif()
if(PARLEY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(PARLEY_SANITIZE AND CMAKE_BUILD_TYPE STREQUAL "Debug")
  # -O1 keeps sanitizer builds fast enough to run the whole suite.
  add_compile_options(-O1)
endif()
