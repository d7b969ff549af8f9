# `strixcore serve` settings and deployment (included from tests/cli/CMakeLists.txt):
# --print-config comparisons of flags and --config files, error messages, the
# docs/deploy files (README key table, deploy.json, Quadlet keys, systemd-analyze
# verify), and the sd_notify READY=1 / STOPPING=1 ordering on the tiny fixture.
# The scripts need only python3's standard library.
find_program(SC_SERVE_PYTHON3 NAMES python3)
if(SC_SERVE_PYTHON3 AND EXISTS ${PROJECT_SOURCE_DIR}/cli/serve_config.c)
  set(SC_SERVE_PY ${CMAKE_CURRENT_SOURCE_DIR}/serve_config.py)
  set(SC_DEPLOY_DIR ${PROJECT_SOURCE_DIR}/docs/deploy)
  add_test(NAME cli/serve-config-compare COMMAND ${SC_SERVE_PYTHON3} ${SC_SERVE_PY} compare ${SC_EXE})
  add_test(NAME cli/serve-config-errors COMMAND ${SC_SERVE_PYTHON3} ${SC_SERVE_PY} errors ${SC_EXE})
  set(SC_SERVE_TESTS cli/serve-config-compare cli/serve-config-errors)
  if(EXISTS ${SC_DEPLOY_DIR}/README.md)
    add_test(NAME cli/serve-config-docs COMMAND ${SC_SERVE_PYTHON3} ${SC_SERVE_PY} docs ${SC_EXE} ${SC_DEPLOY_DIR})
    add_test(NAME cli/serve-systemd-verify
      COMMAND ${SC_SERVE_PYTHON3} ${SC_SERVE_PY} systemd ${SC_EXE} ${SC_DEPLOY_DIR})
    list(APPEND SC_SERVE_TESTS cli/serve-config-docs cli/serve-systemd-verify)
  endif()
  if(TARGET strixcore-openai AND EXISTS ${SC_TINY_MODEL}/config.json)
    add_test(NAME cli/serve-notify
      COMMAND ${SC_SERVE_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/serve_notify.py ${SC_EXE} ${STRIXCORE_PLUGIN_BUILD_DIR}
              ${SC_TINY_MODEL} ${SC_TINY_TOK} ${CMAKE_CURRENT_SOURCE_DIR}/tiny-chat-template.jinja)
    list(APPEND SC_SERVE_TESTS cli/serve-notify)
    set_tests_properties(cli/serve-notify PROPERTIES TIMEOUT 240)
  endif()
  set_tests_properties(${SC_SERVE_TESTS} PROPERTIES LABELS cli SKIP_RETURN_CODE 77
    ENVIRONMENT "STRIXCORE_PLUGIN_PATH=")
endif()
