# backends/vulkan/shaders/shaders.cmake - the shader build machinery.
#
# Included by backends/vulkan/CMakeLists.txt. It
#   1. probes glslc for optional GLSL extensions and sets
#        SC_VK_HAVE_INT_DOT  (GL_EXT_integer_dot_product: dotPacked4x8EXT)
#        SC_VK_HAVE_COOPMAT  (GL_KHR_cooperative_matrix: coopmat<>)
#      to 1 or 0; manifests test them to add optional variants, and the host
#      code gets the same names as C defines (a variant that was not built
#      is also simply absent: vk_spirv_find() returns NULL);
#   2. defines sc_vk_shader() and includes every shaders/*.cmake manifest
#      but this file;
#   3. embeds every module's SPIR-V into the plugin: one generated C file per
#      module (a uint32_t array, made by this same file in script mode at
#      build time) and vk_shaders.c with the table behind vk_spirv_find().
#
#   sc_vk_shader(NAME <module> SOURCE <file.comp> [DEFINES A=1 B ...] [DEPENDS <extra files>]
#                [NV_TO_KHR])
#
# compiles `glslc --target-env=vulkan1.2 -O -I<shaders> -DA=1 -DB <file.comp>`
# into module <module> (a C identifier, unique across manifests). SOURCE is
# relative to the shaders directory. Every shaders/*.glsl is a dependency of
# every module; DEPENDS adds more (another .comp #included, say).
# NV_TO_KHR: the source uses GL_NV_cooperative_matrix; glslc's output is
# rewritten into SPV_KHR_cooperative_matrix by the host tool sc_spv_coopmat_khr
# (backends/vulkan/tools/), which fails the build on anything it cannot map.

# ---------------------------------------------------------------------------
# Script mode: cmake -DSC_VK_EMBED=1 -DNAME=x -DSPV=x.spv -DOUT=x.c -P shaders.cmake
# ---------------------------------------------------------------------------
if(SC_VK_EMBED)
  file(READ "${SPV}" hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR rem "${n} % 8")
  if(n EQUAL 0 OR NOT rem EQUAL 0)
    message(FATAL_ERROR "${SPV}: not a SPIR-V module (${n} hex digits)")
  endif()
  # bytes b0 b1 b2 b3 -> little-endian word 0xb3b2b1b0
  string(REGEX REPLACE "([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])"
         "0x\\4\\3\\2\\1," words "${hex}")
  string(REGEX REPLACE "((0x[0-9a-f]+,){8})" "\\1\n    " words "${words}")
  file(WRITE "${OUT}.tmp"
    "/* generated from ${NAME}.spv by shaders.cmake; do not edit */\n"
    "#include \"vk_internal.h\"\n"
    "extern const vk_spirv sc_vk_mod_${NAME};\n"
    "static const uint32_t code[] = {\n    ${words}\n};\n"
    "const vk_spirv sc_vk_mod_${NAME} = {\"${NAME}\", code, sizeof(code)};\n")
  file(RENAME "${OUT}.tmp" "${OUT}")
  return()
endif()

set(SC_VK_SHADER_DIR ${CMAKE_CURRENT_LIST_DIR})
set(SC_VK_SPV_DIR ${CMAKE_CURRENT_BINARY_DIR}/spv)
set(SC_VK_SHADERS_CMAKE ${CMAKE_CURRENT_LIST_FILE})
file(MAKE_DIRECTORY ${SC_VK_SPV_DIR})
file(GLOB SC_VK_GLSL_INCLUDES CONFIGURE_DEPENDS ${SC_VK_SHADER_DIR}/*.glsl)

# ---------------------------------------------------------------------------
# 1. glslc feature probes (configure time)
# ---------------------------------------------------------------------------
function(_sc_vk_probe var body)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/glslc-probe)
  file(MAKE_DIRECTORY ${dir})
  file(WRITE ${dir}/${var}.comp "${body}")
  execute_process(COMMAND ${SC_GLSLC} --target-env=vulkan1.2 -o ${dir}/${var}.spv ${dir}/${var}.comp
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(rc EQUAL 0)
    set(${var} 1 PARENT_SCOPE)
  else()
    set(${var} 0 PARENT_SCOPE)
  endif()
endfunction()

_sc_vk_probe(SC_VK_HAVE_INT_DOT [=[
#version 450
#extension GL_EXT_integer_dot_product : require
layout(local_size_x = 1) in;
layout(binding = 0) buffer B { int v[]; };
void main() { v[0] = dotPacked4x8EXT(v[1], v[2]); }
]=])
_sc_vk_probe(SC_VK_HAVE_COOPMAT [=[
#version 450
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x = 32) in;
layout(binding = 0) buffer B { float16_t v[]; };
void main() {
    coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> m;
    coopMatLoad(m, v, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
}
]=])

# ---------------------------------------------------------------------------
# 2. sc_vk_shader() and the manifests
# ---------------------------------------------------------------------------
set_property(GLOBAL PROPERTY SC_VK_MODULES "")
set_property(GLOBAL PROPERTY SC_VK_MODULE_C "")

function(sc_vk_shader)
  cmake_parse_arguments(S "NV_TO_KHR" "NAME;SOURCE" "DEFINES;DEPENDS" ${ARGN})
  if(NOT S_NAME OR NOT S_SOURCE)
    message(FATAL_ERROR "sc_vk_shader: NAME and SOURCE are required (${ARGN})")
  endif()
  if(NOT S_NAME MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "sc_vk_shader: module name '${S_NAME}' must be a C identifier")
  endif()
  get_property(mods GLOBAL PROPERTY SC_VK_MODULES)
  if(S_NAME IN_LIST mods)
    message(FATAL_ERROR "sc_vk_shader: module '${S_NAME}' is defined twice (${CMAKE_CURRENT_LIST_FILE})")
  endif()
  if(IS_ABSOLUTE ${S_SOURCE})
    set(src ${S_SOURCE})
  else()
    set(src ${SC_VK_SHADER_DIR}/${S_SOURCE})
  endif()
  if(NOT EXISTS ${src})
    message(FATAL_ERROR "sc_vk_shader(${S_NAME}): ${src} does not exist")
  endif()
  set(defs "")
  foreach(d ${S_DEFINES})
    list(APPEND defs -D${d})
  endforeach()
  set(spv ${SC_VK_SPV_DIR}/${S_NAME}.spv)
  set(c ${SC_VK_SPV_DIR}/${S_NAME}.spv.c)
  if(S_NV_TO_KHR)
    add_custom_command(OUTPUT ${spv}
      COMMAND ${SC_GLSLC} --target-env=vulkan1.2 -O -I${SC_VK_SHADER_DIR} ${defs} -o ${spv}.nv ${src}
      COMMAND $<TARGET_FILE:sc_spv_coopmat_khr> ${spv}.nv ${spv}
      DEPENDS ${src} ${SC_VK_GLSL_INCLUDES} ${S_DEPENDS} sc_spv_coopmat_khr
      COMMENT "glslc ${S_NAME} (${S_SOURCE} ${S_DEFINES}), cooperative matrix NV -> KHR"
      VERBATIM)
  else()
  add_custom_command(OUTPUT ${spv}
    COMMAND ${SC_GLSLC} --target-env=vulkan1.2 -O -I${SC_VK_SHADER_DIR} ${defs} -o ${spv} ${src}
    DEPENDS ${src} ${SC_VK_GLSL_INCLUDES} ${S_DEPENDS}
    COMMENT "glslc ${S_NAME} (${S_SOURCE} ${S_DEFINES})"
    VERBATIM)
  endif()
  add_custom_command(OUTPUT ${c}
    COMMAND ${CMAKE_COMMAND} -DSC_VK_EMBED=1 -DNAME=${S_NAME} -DSPV=${spv} -DOUT=${c} -P ${SC_VK_SHADERS_CMAKE}
    DEPENDS ${spv} ${SC_VK_SHADERS_CMAKE}
    VERBATIM)
  set_property(GLOBAL APPEND PROPERTY SC_VK_MODULES ${S_NAME})
  set_property(GLOBAL APPEND PROPERTY SC_VK_MODULE_C ${c})
endfunction()

file(GLOB SC_VK_MANIFESTS CONFIGURE_DEPENDS ${SC_VK_SHADER_DIR}/*.cmake)
list(SORT SC_VK_MANIFESTS)
foreach(m ${SC_VK_MANIFESTS})
  if(NOT m STREQUAL SC_VK_SHADERS_CMAKE)
    include(${m})
  endif()
endforeach()

# ---------------------------------------------------------------------------
# 3. the table: vk_shaders.c (rewritten only when the module list changes)
# ---------------------------------------------------------------------------
get_property(_mods GLOBAL PROPERTY SC_VK_MODULES)
get_property(SC_VK_SHADER_C GLOBAL PROPERTY SC_VK_MODULE_C)
list(SORT _mods) # vk_spirv_find() searches by bisection
set(_decl "")
set(_rows "")
foreach(m ${_mods})
  string(APPEND _decl "extern const vk_spirv sc_vk_mod_${m};\n")
  string(APPEND _rows "    &sc_vk_mod_${m},\n")
endforeach()
list(LENGTH _mods _n)
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/vk_shaders.c CONTENT [=[
/* generated by backends/vulkan/shaders/shaders.cmake from the shader manifests; do not edit */
#include <string.h>

#include "vk_internal.h"

@_decl@
/* sorted by name */
static const vk_spirv *const table[] = {
@_rows@    NULL
};

const vk_spirv *vk_spirv_find(const char *name) {
    size_t lo = 0, hi = @_n@;
    if (!name) return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, table[mid]->name);
        if (c == 0) return table[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}
]=] @ONLY)
list(APPEND SC_VK_SHADER_C ${CMAKE_CURRENT_BINARY_DIR}/vk_shaders.c)
