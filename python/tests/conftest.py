import os
import sys

# The harness is imported from the source tree, as the zygote does.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
