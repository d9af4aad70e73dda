// env: prints the environment the function sees, one VAR=value per line (Http_* headers, CGI
// variables and the deployment's envVars), like OpenFaaS's functions/alpine with fprocess env.
#include <stdio.h>

extern char **environ;

int main(void) {
  for (char **e = environ; *e; e++) puts(*e);
  return 0;
}
