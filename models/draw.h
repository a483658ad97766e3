// Drawings of architecture specs (`mad describe --graph dot|svg`, `mad report`): the backbone's entries in
// order, groups as clusters of their branches or parts, brick uses as `*name`, and wiring entries expanded
// into their nodes with one edge per tensor read (labelled with the tensor's name where it is not the
// node's own). DOT for Graphviz; SVG drawn here (a layered layout: a node's row is its longest path from the
// input), so no external tool is needed.
#pragma once

#include <string>

#include "models/arch_spec.h"

namespace mad::models {

std::string arch_dot(const ArchSpec& spec);
std::string arch_svg(const ArchSpec& spec);

}  // namespace mad::models
