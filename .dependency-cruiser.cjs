// The layers of src/ (CONTRIBUTING.md, Architecture): each stage imports only the ones below it,
// entry → modes/ → settings/ → openstack/ → lib/, openstack/ nothing of the action, and no circle.
const below = (layer, allowed) => ({
  name: `${layer}-imports-only-below`,
  severity: 'error',
  comment: `src/${layer}/ imports only ${allowed.join(', ')} (and node_modules)`,
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: allowed.map((dir) => `^src/${dir}/`) },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    below('lib', ['lib']),
    below('openstack', ['openstack']),
    below('settings', ['settings', 'openstack', 'lib']),
    below('modes', ['modes', 'settings', 'openstack', 'lib']),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
