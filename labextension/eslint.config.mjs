import tseslint from 'typescript-eslint';

export default tseslint.config({ ignores: ['lib/', 'node_modules/', '.yarn/'] }, ...tseslint.configs.recommended, {
  files: ['src/**/*.ts'],
  rules: {
    '@typescript-eslint/no-non-null-assertion': 'off',
    '@typescript-eslint/no-namespace': 'off',
    eqeqeq: 'error',
    curly: 'error',
    'prefer-const': 'error'
  }
});
