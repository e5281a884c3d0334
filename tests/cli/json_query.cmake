# Reads a value out of a JSON file with CMake's own JSON parser, so that the CLI tests need
# nothing beyond what the build already requires.
#
#   cmake -DFILE=out.json -DQUERY="placement;0;backend" -P json_query.cmake   -> prints the value
#   cmake -DFILE=out.json -DQUERY="placement" -DOP=LENGTH -P json_query.cmake -> prints the length
#
# OP is GET (default), LENGTH or TYPE, as in string(JSON). Invalid JSON or a missing member
# makes the script fail with the parser's message.
if(NOT DEFINED FILE)
  message(FATAL_ERROR "json_query.cmake: -DFILE=... is required")
endif()
if(NOT DEFINED OP)
  set(OP GET)
endif()
file(READ "${FILE}" text)
string(JSON value ERROR_VARIABLE error ${OP} "${text}" ${QUERY})
if(error)
  message(FATAL_ERROR "${FILE}: ${error}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E echo "${value}")
