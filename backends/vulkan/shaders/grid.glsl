// The flat index of this invocation. Grids larger than the device's maxComputeWorkGroupCount[0]
// are folded into rows of `row_groups` workgroups (see kernel.cpp, Grid).
uint flat_index(uint row_groups) {
  return (gl_WorkGroupID.y * row_groups + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
}
