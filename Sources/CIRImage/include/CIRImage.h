// Umbrella header of the CIRImage module (SwiftPM and Fuzz/run.sh both import it through this name).
#include "irimage_codecs.h"
