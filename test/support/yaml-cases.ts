// clouds.yaml and secure.yaml that must not show their secret: YAML that does not parse, and tags
// on a secret key (the parser warns about them on stderr, quoting the line). The unit test of
// clouds-yaml.ts (unit/login-settings.test.ts) tries every case.

export interface YamlCase {
  name: string;
  /** The file that holds the secret (and the fault); the other one is valid. */
  file: 'clouds.yaml' | 'secure.yaml';
  /** The file's text, cloud `c`, around `secret`. */
  text: (secret: string) => string;
  /** Where the parser places the fault (a tag: its line). */
  line: number;
  column?: number;
}

const withAuth = (...lines: string[]) => ['clouds:', '  c:', '    auth:', ...lines, ''].join('\n');

/** The 7 malformed files of the issue, then the 3 tags. */
export const YAML_CASES: YamlCase[] = [
  { name: 'a value starting with @', file: 'clouds.yaml', text: (s) => withAuth(`      password: @${s}`), line: 4, column: 17 },
  { name: 'a value starting with a backtick', file: 'secure.yaml', text: (s) => withAuth(`      password: \`${s}`), line: 4, column: 17 },
  { name: 'a value holding ": "', file: 'clouds.yaml', text: (s) => withAuth(`      password: ab: ${s}`), line: 4, column: 17 },
  { name: 'a bad indent', file: 'secure.yaml', text: (s) => withAuth(`      password: ${s}`, '     username: demo'), line: 5, column: 1 },
  { name: 'an open quote', file: 'clouds.yaml', text: (s) => withAuth(`      password: "${s}`), line: 5, column: 1 },
  { name: 'a duplicate key', file: 'secure.yaml', text: (s) => withAuth(`      password: ${s}`, `      password: ${s}-2`), line: 5, column: 7 },
  { name: 'a tab', file: 'clouds.yaml', text: (s) => withAuth(`\tpassword: ${s}`), line: 4, column: 1 },
  { name: 'a !vault tag on the password', file: 'secure.yaml', text: (s) => withAuth(`      password: !vault ${s}`), line: 4 },
  { name: 'a !!js/function tag on the password', file: 'clouds.yaml', text: (s) => withAuth(`      password: !!js/function ${s}`), line: 4 },
  { name: 'a !!python/object/apply tag on the password', file: 'secure.yaml', text: (s) => withAuth(`      password: !!python/object/apply ${s}`), line: 4 },
];

/** The valid other file. */
export const VALID_YAML = withAuth('      username: demo');
