import * as core from '@actions/core';

import got from 'got';
import { hello } from './a.ts';
core.info(hello('x'));
void got;
