# Unit tests of the code generator: `make codegen-test`, i.e.
#   cd codegen && python3 -m unittest discover -s tests -t . -q
